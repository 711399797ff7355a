#!/bin/sh
# warrend under Debian's real systemd, run as root inside the test guest
# (tests/vm/run-systemd: systemd is pid 1 and the build's warrend.service is
# installed as it is). What warrend(8) RESTARTS and SYSTEMD promise:
# Type=notify reaches active; `systemctl restart`, a crash (Restart=) and
# `systemctl reload` keep every session with its id, files and background
# processes; `systemctl stop` ends every sandbox; `warrend --drain` waits
# for the sessions. The daemon is driven with the warren CLI on its default
# socket. Each check prints "ok NAME" or "not ok NAME: detail"; the last
# line says how many there are (guest-lib.sh checks the run was whole).
export PATH=/usr/bin
# the unit's cgroup (warrend), and where its sandboxes' are (the unit has
# no Delegate=: see its comment)
unit=/sys/fs/cgroup/system.slice/warrend.service
sandboxes=/sys/fs/cgroup/warren
out=/tmp/out
err=/tmp/err

pass() { echo "ok $1${2:+ # $2}"; }
fail() { echo "not ok $1: $2"; }
oneline() { tr '\n' ' ' < "$1" | cut -c1-300; }
check() { # NAME DETAIL-IF-NOT CMD...: passes when CMD succeeds
	name=$1 detail=$2
	shift 2
	if "$@"; then pass "$name"; else fail "$name" "$detail"; fi
}

# wait_until SECONDS CMD...: polls CMD every 0.2 s (a ceiling, not a timing)
wait_until() {
	n=$(($1 * 5))
	shift
	while [ $n -gt 0 ]; do
		"$@" && return 0
		sleep 0.2
		n=$((n - 1))
	done
	"$@"
}

prop() { systemctl show -p "$1" --value warrend.service; }
active() { [ "$(prop ActiveState)" = active ]; }
inactive() { [ "$(prop ActiveState)" = inactive ]; }
# The unit's main pid once it is active and is not $1 (or not 0).
new_main() { active && [ "$(prop MainPID)" != 0 ] && [ "$(prop MainPID)" != "${1:-0}" ]; }
serving() { warren ls >/dev/null 2>&1; }

# Lines the background command wrote into its session's workspace.
ticks() { warren exec "$bg" --shell 'wc -l < /workspace/ticks' 2>/dev/null | tr -d ' '; }
more_ticks() { t=$(ticks); [ -n "$t" ] && [ "$t" -gt "$1" ]; }
# Host processes running the background command (its shell's argv).
# (the bracket keeps grep from finding itself)
bg_procs() { grep -l 'workspace/tick[s]' /proc/[0-9]*/cmdline 2>/dev/null | wc -l; }

# sessions_intact WHEN: the three sessions answer with their ids, the file
# is there, the background process runs and its output keeps growing.
sessions_intact() {
	when=$1
	warren ls >$out 2>$err
	missing=
	for id in $bg $file $plain; do
		grep -q "$id" $out || missing="$missing $id"
	done
	check ${when}_same_ids "missing:$missing; warren ls: $(oneline $out) $(oneline $err)" [ -z "$missing" ]
	warren exec "$file" -- cat /workspace/hello.txt >$out 2>$err
	check ${when}_file_kept "got: $(oneline $out) $(oneline $err)" [ "$(cat $out)" = "hello from before" ]
	warren ps "$bg" >$out 2>&1
	before=$(ticks)
	if grep -q running $out && [ -n "$before" ] && wait_until 20 more_ticks "$before"; then
		pass ${when}_process_runs "$before lines, then $(ticks)"
	else
		fail ${when}_process_runs "ticks $before then $(ticks); warren ps: $(oneline $out)"
	fi
}

# ---- 1. start: Type=notify reaches active (READY=1) ------------------------
systemctl start --no-block warrend.service
wait_until 60 active
check start_reaches_active "ActiveState $(prop ActiveState) $(prop SubState), MainPID $(prop MainPID)" \
	new_main
check start_serves "warren ls fails" wait_until 20 serving

# ---- 2. systemctl restart keeps the sessions --------------------------------
bg=$(warren create 2>$err) plain=$(warren create 2>>$err) file=$(warren create 2>>$err)
echo "hello from before" > /tmp/hello
warren cp /tmp/hello "$file:hello.txt" 2>>$err
warren exec -d "$bg" --shell 'while :; do echo tick >> /workspace/ticks; sleep 0.2; done' >/dev/null 2>>$err
if [ -n "$bg" ] && [ -n "$plain" ] && [ -n "$file" ] && wait_until 20 more_ticks 0; then
	pass sessions_created
else
	fail sessions_created "ids '$bg' '$plain' '$file', ticks '$(ticks)': $(oneline $err)"
fi
old=$(prop MainPID)
timeout 60 systemctl restart warrend.service >$out 2>&1
wait_until 30 new_main "$old"
check restart_new_main_pid "MainPID $old then $(prop MainPID), $(prop ActiveState): $(oneline $out)" \
	new_main "$old"
wait_until 20 serving
sessions_intact restart

# ---- 3. a crash: Restart=on-failure, the next warrend takes them back -------
old=$(prop MainPID)
[ "$old" -gt 1 ] && kill -KILL "$old"
check crash_restarted "MainPID $old then $(prop MainPID), $(prop ActiveState) $(prop SubState)" \
	wait_until 60 new_main "$old"
wait_until 20 serving
sessions_intact crash

# ---- 4. systemctl reload (SIGHUP): the same daemon, the same sessions -------
old=$(prop MainPID)
systemctl reload warrend.service >$out 2>&1
check reload_same_main_pid "MainPID $old then $(prop MainPID), $(prop ActiveState): $(oneline $out)" \
	[ "$(prop MainPID)" = "$old" ]
sessions_intact reload

# ---- 5. systemctl stop ends every sandbox ------------------------------------
seen() { [ "$(bg_procs)" -gt 0 ] && [ -n "$(find $sandboxes -mindepth 1 -type d -name 'wd-*')" ]; }
check stop_sees_sandboxes "before the stop: $(bg_procs) background processes, cgroups $(ls $sandboxes 2>&1 | tr '\n' ' ')" seen
timeout 60 systemctl stop warrend.service >$out 2>&1
check stop_inactive "$(prop ActiveState) $(prop SubState): $(oneline $out)" inactive
check stop_no_sandbox_process "$(bg_procs) left running the background command" [ "$(bg_procs)" = 0 ]
left=$(find $unit $sandboxes -name cgroup.procs -exec cat {} + 2>/dev/null | wc -l)
kids=$(find $unit $sandboxes -mindepth 1 -type d 2>/dev/null | wc -l)
check stop_cgroups_empty "$left processes, $kids child cgroups left in $unit and $sandboxes" [ "$left$kids" = 00 ]
check stop_no_records "left: $(ls /run/warren/sessions 2>&1 | tr '\n' ' ')" \
	[ -z "$(ls /run/warren/sessions 2>/dev/null)" ]

# ---- 6. warrend --drain: no new sessions, exits once the last one ended -----
systemctl start --no-block warrend.service
wait_until 60 new_main
wait_until 20 serving
id=$(warren create 2>$err)
warrend --drain >/tmp/drain.log 2>&1 &
drain=$!
draining() { warren status 2>&1 | grep -q draining; }
wait_until 20 draining
warren create >$out 2>&1
check drain_refuses_sessions "warren create: $(oneline $out)" grep -q 'shutting down' $out
check drain_waits_for_sessions "warrend --drain exited, unit $(prop ActiveState)" \
	kill -0 $drain 2>/dev/null
warren rm "$id" >$out 2>&1
drain_done() { ! kill -0 $drain 2>/dev/null; }
stopped_clean() { inactive && [ "$(prop Result)" = success ]; }
wait_until 60 drain_done
wait $drain
check drain_exits_cleanly "warrend --drain: $(oneline /tmp/drain.log); unit $(prop ActiveState) $(prop Result)" \
	stopped_clean

# Keep in step with the checks above (one ok/not ok line each).
echo "# completed: 23 checks"
