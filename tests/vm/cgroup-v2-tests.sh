#!/bin/sh
# warren's cgroup v2 tests, run as root inside the test guest (see
# run-cgroup-v2): /sys/fs/cgroup is a fresh cgroup2 mount with every
# controller and nothing else uses it. Each test prints "ok NAME" or
# "not ok NAME: detail"; guest-init.sh counts them. The last line says how
# many checks there are: a run that stops early or skips one is a failure
# (guest-lib.sh).
export PATH=/usr/bin
cg=/sys/fs/cgroup
out=/tmp/out
err=/tmp/err

pass() { echo "ok $1${2:+ # $2}"; }
fail() { echo "not ok $1: $2"; }
oneline() { tr '\n' ' ' < "$1" | cut -c1-300; }

# Runs warren with stdout in $out and stderr in $err; sets $rc.
wrun() {
	rc=0
	warren run "$@" >"$out" 2>"$err" </dev/null || rc=$?
}

# The child cgroups of a directory, one per line (names only).
child_cgroups() {
	for d in "$1"/*/; do
		[ -d "$d" ] && basename "$d"
	done
}

# Waits up to ~10 s for exactly one child cgroup of $1 to appear; prints it.
wait_one_child() {
	i=0
	while [ $i -lt 100 ]; do
		kids=$(child_cgroups "$1" 2>/dev/null)
		if [ -n "$kids" ] && [ "$(echo "$kids" | wc -l)" = 1 ] &&
			[ -n "$(cat "$1/$kids/cgroup.procs" 2>/dev/null)" ]; then
			echo "$1/$kids"
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# ---- the runtime picks cgroup v2 and says so -----------------------------
wrun --verbose -- true
if [ $rc = 0 ] && grep -q 'cgroup v2' "$err"; then
	pass verbose_reports_cgroup_v2
else
	fail verbose_reports_cgroup_v2 "exit $rc, stderr: $(oneline $err)"
fi

wrun -- id -u
if [ $rc = 0 ] && [ "$(cat $out)" = 1000 ]; then
	pass runs_as_uid_1000
else
	fail runs_as_uid_1000 "exit $rc, stdout: $(oneline $out), stderr: $(oneline $err)"
fi

# ---- memory.max: a hog is OOM-killed and reported -------------------------
# The shell variable doubles to 64M (about 200M of memory in all), which the
# guest can afford but the 32M limit (swap 0) cannot: without the limit the
# script would end normally and print "survived".
wrun --memory 32M --timeout 60s -- sh -c '
	x=a
	while [ ${#x} -lt 67108864 ]; do x=$x$x; done
	echo survived'
if [ $rc = 137 ] && grep -qF 'killed: out of memory (limit 32M)' "$err" && ! grep -q survived "$out"; then
	pass memory_limit_oom_killed_and_reported
else
	fail memory_limit_oom_killed_and_reported "exit $rc (want 137), stdout: $(oneline $out), stderr: $(oneline $err)"
fi

# ---- OOM scores and a full workspace (audit item 11) ---------------------
# Root in the guest has CAP_SYS_RESOURCE: init is exempt (-1000), each
# command is the OOM killer's first choice (1000) from its first
# instruction; the workspace is capped under the memory limit (16M less a
# 4M reserve), so filling it fails with ENOSPC rather than an OOM kill.
wrun --memory 16M --timeout 60s -- sh -c '
	cat /proc/self/oom_score_adj /proc/1/oom_score_adj
	head -c 20971520 /dev/zero > /workspace/x; echo head=$?; wc -c < /workspace/x'
scores=$(head -n2 "$out" | tr '\n' ' ')
written=$(tail -n1 "$out")
# busybox head says "I/O error" for the ENOSPC; the file stops at the 12M cap
if [ $rc = 0 ] && [ "$scores" = "1000 -1000 " ] && grep -q '^head=1$' "$out" && [ "$written" -le 12582912 ]; then
	pass oom_scores_and_full_workspace
else
	fail oom_scores_and_full_workspace "exit $rc, stdout: $(oneline $out), stderr: $(oneline $err)"
fi

# ---- pids.max: a shell cannot start 50 processes under --pids 16 ----------
wrun --pids 16 --timeout 30s -- sh -c '
	i=0
	while [ $i -lt 50 ]; do
		sleep 5 &
		i=$((i + 1))
		echo "started $i"
	done'
started=$(grep -c '^started' "$out")
if [ "$started" -lt 50 ] && grep -qiE 'fork|resource temporarily unavailable' "$err"; then
	pass pids_limit_caps_forks
else
	fail pids_limit_caps_forks "started $started of 50 (want < 50), exit $rc, stderr: $(oneline $err)"
fi

# ---- cpu.max: a busy loop gets a fifth of a CPU under --cpus 0.2 ----------
# The loop spins for 3 s of wall time (read from /proc/uptime, no forks) and
# prints the CPU time it got, in percent of that wall time. Both clocks are
# the guest's, so a busy host slows the guest without skewing the ratio.
busy='
	read now _ </proc/uptime; start=$(( ${now%.*}${now#*.} ))
	i=0
	while :; do
		i=$((i + 1))
		if [ $((i % 50)) = 0 ]; then
			read now _ </proc/uptime
			[ $(( ${now%.*}${now#*.} - start )) -ge 300 ] && break
		fi
	done
	read -r stat </proc/$$/stat
	set -- ${stat#*) }
	echo $(( (${12} + ${13}) * 100 / ( ${now%.*}${now#*.} - start ) ))'
wrun --timeout 30s -- sh -c "$busy"
full=$(cat $out)
full_rc=$rc
wrun --cpus 0.2 --timeout 30s -- sh -c "$busy"
limited=$(cat $out)
if [ $full_rc = 0 ] && [ $rc = 0 ] && [ -n "$full" ] && [ -n "$limited" ] &&
	[ "$limited" -le 35 ] && [ "$full" -ge $((limited * 2)) ]; then
	pass cpu_limit_throttles "limited ${limited}% vs unlimited ${full}% of a CPU"
else
	fail cpu_limit_throttles "limited '$limited'% (exit $rc) vs unlimited '$full'% (exit $full_rc), want <= 35% and half the unlimited"
fi

# ---- a timeout kills everything the command started -----------------------
wrun --timeout 2s -- sh -c '(setsid sleep 1234 &); sleep 1234'
leftover=$(ps -o args | grep -c '^sleep 1234')
if [ $rc = 124 ] && [ "$leftover" = 0 ]; then
	pass timeout_kills_double_forked_child
else
	fail timeout_kills_double_forked_child "exit $rc (want 124), $leftover 'sleep 1234' left"
fi

# ---- the limits are written into the sandbox's own cgroup -----------------
warren run --memory 48M --pids 20 --cpus 0.5 -- sleep 3 >/dev/null 2>$err </dev/null &
job=$!
dir=""
if dir=$(wait_one_child $cg/warren); then
	got="memory.max=$(cat $dir/memory.max) memory.swap.max=$(cat $dir/memory.swap.max)"
	got="$got pids.max=$(cat $dir/pids.max) cpu.max=$(cat $dir/cpu.max)"
	got="$got memory.oom.group=$(cat $dir/memory.oom.group)"
	want="memory.max=50331648 memory.swap.max=0 pids.max=20 cpu.max=50000 100000 memory.oom.group=1"
	if [ "$got" = "$want" ]; then
		pass sandbox_cgroup_has_limits
	else
		fail sandbox_cgroup_has_limits "got '$got', want '$want'"
	fi
else
	fail sandbox_cgroup_has_limits "no populated child cgroup of $cg/warren appeared: $(child_cgroups $cg/warren | tr '\n' ' ')"
fi
# Cgroups made inside the sandbox's own (e.g. by a delegated workload)
# must not keep its directory alive.
[ -n "$dir" ] && mkdir -p "$dir/inner/deeper"
wait $job || true
if [ -n "$dir" ] && [ ! -d "$dir" ]; then
	pass sandbox_cgroup_removed_with_children
else
	fail sandbox_cgroup_removed_with_children "${dir:-the sandbox cgroup} is still there: $(find "$dir" -type d | tr '\n' ' ')"
fi

# ---- $WARREN_CGROUP_PARENT places sandboxes elsewhere ---------------------
WARREN_CGROUP_PARENT=tenants/alpha warren run --pids 7 -- sleep 3 >/dev/null 2>$err </dev/null &
job=$!
if dir=$(wait_one_child $cg/tenants/alpha) && [ "$(cat $dir/pids.max)" = 7 ]; then
	pass cgroup_parent_from_environment
else
	fail cgroup_parent_from_environment "no child cgroup with pids.max 7 under $cg/tenants/alpha; stderr: $(oneline $err)"
fi
wait $job || true

# ---- a systemd service with Delegate=yes: sandboxes go in its subtree -----
# What systemd does for such a service: controllers on in the parent, the
# service's cgroup marked with the trusted.delegate xattr, $INVOCATION_ID set.
svc=$cg/system.slice/warrend.service
mkdir -p $svc
echo "+memory +pids +cpu" > $cg/cgroup.subtree_control
echo "+memory +pids +cpu" > $cg/system.slice/cgroup.subtree_control
setfattr -n trusted.delegate -v 1 $svc
sh -c "echo \$\$ > $svc/cgroup.procs && INVOCATION_ID=vmtest exec warren run --pids 9 -- sleep 3" \
	>/dev/null 2>$err </dev/null &
job=$!
if dir=$(wait_one_child $svc/sandboxes) && [ "$(cat $dir/pids.max)" = 9 ] &&
	grep -qx "$job" $svc/supervisor/cgroup.procs; then
	pass delegated_subtree_used
else
	fail delegated_subtree_used "want sandboxes under $svc/sandboxes and warren ($job) in $svc/supervisor; found: $(cd $svc && find . -name cgroup.procs | tr '\n' ' '); stderr: $(oneline $err)"
fi
wait $job || true

# ---- templates (issue 12): the second run copies the first one's ----------
wrun --verbose -- true
wrun --verbose -- cat /proc/self/mountinfo
if [ $rc = 0 ] && grep -qx 'warren: template: copied' $err && [ -e /run/warren/templates/ns ] &&
	grep -q ' / / ro,' $out && ! grep -qE ' /(oldroot|newroot)' $out; then
	pass template_copied
else
	fail template_copied "exit $rc, stderr: $(oneline $err), mounts: $(oneline $out)"
fi

# ---- a run killed with SIGKILL: the next one removes its cgroup -----------
warren run -- sleep 300 >/dev/null 2>&1 </dev/null &
job=$!
if dir=$(wait_one_child $cg/warren); then
	kill -KILL $job
	wait $job 2>/dev/null
	left_by_kill=$([ -d $dir ] && echo yes)
	wrun -- true
	if [ "$left_by_kill" = yes ] && [ $rc = 0 ] && [ ! -d $dir ]; then
		pass killed_run_cleaned_up
	else
		fail killed_run_cleaned_up "left by the kill: ${left_by_kill:-no}; next run exit $rc; $dir $([ -d $dir ] && echo remains)"
	fi
else
	kill -KILL $job
	wait $job 2>/dev/null
	fail killed_run_cleaned_up "the run made no cgroup in $cg/warren"
fi

# ---- nothing is left behind ----------------------------------------------
left=""
for parent in $cg/warren $cg/tenants/alpha $svc/sandboxes; do
	for kid in $(child_cgroups $parent); do
		left="$left $parent/$kid"
	done
done
if [ -d $cg/warren ] && [ -z "$left" ]; then
	pass no_cgroups_left_behind
else
	fail no_cgroups_left_behind "left:${left:- $cg/warren missing}"
fi

# Keep in step with the checks above (one ok/not ok line each).
echo "# completed: 14 checks"
