#!/bin/sh
# warrend's oci backend with crun and runc, run as root inside the test
# guest (see run-cgroup-v2) after cgroup-v2-tests.sh, and file writes charged
# to the sandbox's cgroup v2 (native and oci). The development hosts
# have hybrid cgroups, where crun refuses to run; the guest's pure cgroup v2
# hierarchy is where crun, and runc's `exec --cgroup` on v2, are exercised.
# Everything goes through the HTTP API (vm-http, a tiny client: the guest
# has no curl). Each check prints "ok NAME" or "not ok NAME: detail"; the
# last line says how many there are (guest-lib.sh checks the run was whole).
export PATH=/usr/bin
cg=/sys/fs/cgroup
port=18080

pass() { echo "ok $1${2:+ # $2}"; }
fail() { echo "not ok $1: $2"; }
oneline() { tr '\n' ' ' < "$1" | cut -c1-400; }

# api METHOD PATH [BODY]: the status in $code, the body in $resp.
api() {
	vm-http $port "$@" > /tmp/resp 2>&1
	code=$(head -n1 /tmp/resp)
	resp=$(tail -n +2 /tmp/resp | tr '\n' ' ' | cut -c1-400)
}

child_cgroups() {
	for d in "$1"/*/; do
		[ -d "$d" ] && basename "$d"
	done
}

# start_warrend CONF LOG CGROUP_PARENT: starts it ($daemon) and waits up to
# 15 s for it to be ready.
start_warrend() {
	# TCP wants a token: vm-http sends $WARREN_TOKEN.
	tokens=$2.tokens
	rm -f $tokens
	WARREN_TOKEN=$(warrend token add vm --config /dev/null --tokens $tokens)
	export WARREN_TOKEN
	WARREN_CGROUP_PARENT=$3 warrend --config $1 --tokens $tokens >$2 2>&1 &
	daemon=$!
	i=0
	while [ $i -lt 150 ] && ! grep -q '^warrend: ready' $2 && kill -0 $daemon 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
}

# One daemon per runtime: create a session, run commands in it, delete it,
# stop the daemon, and look for anything left.
oci_checks() {
	rt=$1
	state=/run/wd-$rt
	parent=oci-$rt
	log=/tmp/warrend-$rt.log
	conf=/tmp/warrend-$rt.conf
	cat > $conf <<-EOF
	listen = 127.0.0.1:$port
	state_dir = $state
	policy_dir = /policy
	image_dir = /images
	pool_size = 0
	backend = oci
	oci_runtime = $rt
	EOF
	start_warrend $conf $log $parent
	if ! grep -q '^warrend: ready' $log; then
		for check in session_created exec_id_u timeout_reported oom_killed_reported deleted \
			daemon_exits_clean nothing_left; do
			fail ${rt}_$check "warrend did not start: $(oneline $log)"
		done
		kill $daemon 2>/dev/null
		wait $daemon 2>/dev/null
		return
	fi

	# The memory limit is the session's, under the policy's 512M. The
	# container's state, in the runtime's own format (crun: status, runc:
	# state.json), shows which runtime made it.
	api POST /v1/sessions '{"limits":{"memory":"32M"}}'
	id=$(echo "$resp" | sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p')
	case $rt in
	crun) state_file=status ;;
	*) state_file=state.json ;;
	esac
	made=$(ls -d $state/oci/*/$state_file 2>/dev/null | wc -l)
	if [ "$code" = 201 ] && [ -n "$id" ] && echo "$resp" | grep -q '"backend":"oci"' && [ "$made" = 1 ]; then
		pass ${rt}_session_created
	else
		fail ${rt}_session_created "status $code (want 201), $made $state/oci/*/$state_file (want 1), body: $resp; log: $(oneline $log)"
	fi

	api POST /v1/sessions/$id/exec '{"cmd":["id","-u"]}'
	if [ "$code" = 200 ] && echo "$resp" | grep -q '"exit_code":0,' &&
		echo "$resp" | grep -qF '"stdout":"1000\n"'; then
		pass ${rt}_exec_id_u
	else
		fail ${rt}_exec_id_u "status $code, body: $resp"
	fi

	# The double-forked sleep leaves the exec's cgroup only by being killed.
	api POST /v1/sessions/$id/exec '{"shell":"(setsid sleep 1234 &); sleep 1234","timeout":"2s"}'
	# The answer comes once the exec's cgroup is killed; its processes may
	# still be exiting: wait (up to 10 s) for them to be gone.
	i=0
	while [ $i -lt 100 ] && ps -o args | grep -q '^sleep 1234'; do
		sleep 0.1
		i=$((i + 1))
	done
	leftover=$(ps -o args | grep -c '^sleep 1234')
	if [ "$code" = 200 ] && echo "$resp" | grep -q '"timed_out":true' && [ "$leftover" = 0 ]; then
		pass ${rt}_timeout_reported
	else
		fail ${rt}_timeout_reported "status $code, $leftover 'sleep 1234' left, body: $resp"
	fi

	# As in cgroup-v2-tests.sh: the string outgrows 32M long before it
	# would end and print "survived".
	api POST /v1/sessions/$id/exec \
		'{"shell":"x=a; while [ ${#x} -lt 67108864 ]; do x=$x$x; done; echo survived","timeout":"60s"}'
	if [ "$code" = 200 ] && echo "$resp" | grep -q '"oom_killed":true' &&
		! echo "$resp" | grep -q survived; then
		pass ${rt}_oom_killed_reported
	else
		fail ${rt}_oom_killed_reported "status $code, body: $resp"
	fi

	api DELETE /v1/sessions/$id
	if [ "$code" = 200 ] && echo "$resp" | grep -q '"deleted":true'; then
		pass ${rt}_deleted
	else
		fail ${rt}_deleted "status $code, body: $resp"
	fi

	kill -TERM $daemon
	i=0
	while [ $i -lt 150 ] && kill -0 $daemon 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	rc=0
	if kill -0 $daemon 2>/dev/null; then
		kill -KILL $daemon
		rc=timeout
	fi
	wait $daemon || rc=$?
	if [ "$rc" = 0 ]; then
		pass ${rt}_daemon_exits_clean
	else
		fail ${rt}_daemon_exits_clean "exit $rc (want 0 within 15 s after SIGTERM); log: $(oneline $log)"
	fi

	# The runtime's own state (--root), the bundles, the sandboxes' cgroups
	# and any process of the runtime.
	left=""
	for entry in $state/oci/* $state/oci-bundles/*; do
		[ -e "$entry" ] && left="$left $entry"
	done
	for kid in $(child_cgroups $cg/$parent); do
		left="$left $cg/$parent/$kid"
	done
	procs=$(ps -o pid,args | grep -E "^ *[0-9]+ [^ ]*($rt|vm-http|sleep 1234)" | grep -v grep)
	[ -n "$procs" ] && left="$left processes: $procs"
	# warrend removes its (empty) oci/ and oci-bundles/ at exit; the
	# cgroup parent must still be there, or the walk above saw nothing
	[ -e $state/oci ] && left="$left $state/oci"
	[ -e $state/oci-bundles ] && left="$left $state/oci-bundles"
	if [ -d $cg/$parent ] && [ -z "$left" ]; then
		pass ${rt}_nothing_left
	else
		fail ${rt}_nothing_left "left:${left:- (no $cg/$parent to check)}"
	fi
}

# ---- file writes charged to the sandbox (audit items 5 and 11) ------------
# A native and an oci (runc) daemon: an 8M PUT grows the sandbox's
# memory.current (the writer joined a child cgroup of the sandbox's), a
# 20M PUT into a 16M session answers 507 and leaves nothing, filling the
# workspace from inside keeps the session, and the OOM scores are set.
memory_checks() {
	name=$1
	state=/run/wd-mem-$name
	log=/tmp/warrend-mem-$name.log
	conf=/tmp/warrend-mem-$name.conf
	printf 'listen = 127.0.0.1:%s\nstate_dir = %s\npolicy_dir = /policy\nimage_dir = /images\npool_size = 1\nbackend = %s\n' \
		$port $state "$2" > $conf
	[ -n "$3" ] && echo "oci_runtime = $3" >> $conf
	start_warrend $conf $log mem-$name
	api POST /v1/sessions '{"limits":{"memory":"16M"}}'
	id=$(echo "$resp" | sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p')
	# (the description's path, ended by its quote; the backend's own state
	# later in the record names it again with escaped newlines)
	dir=$(sed -n 's/.*cgroup v2 \([^"\\]*\)".*/\1/p' $state/sessions/$id.json 2>/dev/null)
	if [ -z "$id" ] || [ ! -f "$dir/memory.current" ]; then
		fail ${name}_put_charged "no session or cgroup (status $code, $resp; log: $(oneline $log))"
	else
		api POST /v1/sessions/$id/exec '{"shell":"sleep 1000 >/dev/null 2>&1 & echo $! > /tmp/bg"}'
		before=$(cat $dir/memory.current)
		head -c 8388608 /dev/zero > /tmp/eight
		api PUT /v1/sessions/$id/files/eight @/tmp/eight
		after=$(cat $dir/memory.current)
		if [ "$code" = 201 ] && [ $((after - before)) -ge 7340032 ]; then
			pass ${name}_put_charged "memory.current $before -> $after"
		else
			fail ${name}_put_charged "status $code ($resp), memory.current $before -> $after"
		fi
		head -c 20971520 /dev/zero > /tmp/sixty
		api PUT /v1/sessions/$id/files/sixty @/tmp/sixty
		c1=$code r1=$resp
		api GET /v1/sessions/$id/files/sixty
		if [ "$c1" = 507 ] && echo "$r1" | grep -q insufficient_storage && [ "$code" = 404 ]; then
			pass ${name}_put_past_memory_507
		else
			fail ${name}_put_past_memory_507 "PUT: $c1 $r1; GET: $code"
		fi
		# the file stops at the workspace's 12M (busybox says "I/O error" for the ENOSPC)
		api POST /v1/sessions/$id/exec '{"shell":"rm /workspace/eight; head -c 20971520 /dev/zero > /workspace/x; echo head=$?; cat /proc/self/oom_score_adj; kill -0 $(cat /tmp/bg) && echo alive; wc -c < /workspace/x"}'
		if [ "$code" = 200 ] && echo "$resp" | grep -qF 'head=1\n1000\nalive\n12582912\n' &&
			echo "$resp" | grep -q '"oom_killed":false'; then
			pass ${name}_full_workspace_keeps_the_session
		else
			fail ${name}_full_workspace_keeps_the_session "status $code, body: $resp"
		fi
		api DELETE /v1/sessions/$id
	fi
	kill -TERM $daemon
	wait $daemon
	rm -f /tmp/eight /tmp/sixty
}
# ---- warrend's spawner (issue 12) -------------------------------------------
# Sessions are cloned by the static warren-spawner as the daemon's children;
# a spawner killed is replaced; nothing of either stays.
# spawners [PARENT]: the pids of warren-spawner processes (PARENT's only)
spawners() {
	ps -o pid,ppid,comm | awk -v p="$1" '$3 == "warren-spawner" && (p == "" || $2 == p) { print $1 }'
}

spawner_checks() {
	state=/run/wd-spawner
	log=/tmp/warrend-spawner.log
	conf=/tmp/warrend-spawner.conf
	printf 'listen = 127.0.0.1:%s\nstate_dir = %s\npolicy_dir = /policy\nimage_dir = /images\npool_size = 0\nbackend = native\n' \
		$port $state > $conf
	start_warrend $conf $log spawner
	spawner=$(spawners $daemon)
	api POST /v1/sessions '{}'
	id=$(echo "$resp" | sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p')
	init=$(sed -n 's/.*"init_pid":\([0-9]*\).*/\1/p' $state/sessions/$id.json 2>/dev/null)
	parent=$(cut -d' ' -f4 /proc/$init/stat 2>/dev/null)
	api POST /v1/sessions/$id/exec '{"cmd":["id","-u"]}'
	if [ -n "$spawner" ] && [ "$(readlink /proc/$spawner/exe)" = /usr/bin/warren-spawner ] &&
		[ "$parent" = "$daemon" ] && [ "$code" = 200 ] && echo "$resp" | grep -qF '"stdout":"1000\n"'; then
		pass spawner_clones_sessions
	else
		fail spawner_clones_sessions "spawner '$spawner' ($(readlink /proc/$spawner/exe)), init $init of $parent (daemon $daemon), exec $code $resp; log: $(oneline $log)"
	fi
	kill -KILL $spawner
	i=0
	while [ $i -lt 50 ] && [ -d /proc/$spawner ] && ! grep -q '^State:.*zombie' /proc/$spawner/status 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	api POST /v1/sessions '{}'
	second=$(echo "$resp" | sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p')
	again=$(spawners $daemon)
	if [ "$code" = 201 ] && [ -n "$again" ] && [ "$again" != "$spawner" ] && grep -q 'spawner restarted' $log; then
		pass spawner_restarted
	else
		fail spawner_restarted "create $code $resp, spawner now '$again' (was $spawner); log: $(oneline $log)"
	fi
	api DELETE /v1/sessions/$id
	api DELETE /v1/sessions/$second
	kill -TERM $daemon
	wait $daemon
	rc=$?
	left=$(spawners; child_cgroups $cg/spawner)
	if [ $rc = 0 ] && [ -z "$left" ] && [ ! -e $state/templates ]; then
		pass spawner_leaves_nothing
	else
		fail spawner_leaves_nothing "exit $rc, left: $left $(ls -d $state/templates 2>/dev/null)"
	fi
}
spawner_checks

memory_checks native native
memory_checks oci oci runc

for rt in crun runc; do
	oci_checks $rt
done

# Keep in step with oci_checks (7 ok/not ok lines per runtime), the memory
# checks (3 per backend) and the spawner's (3).
echo "# completed: 23 checks"
