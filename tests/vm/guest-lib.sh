# Sourced by guest-init.sh (busybox sh in the test guest); checked on the
# host by tests/runner/test_runner.py. A guest test script prints one
# "ok NAME" or "not ok NAME: detail" line per check and, as its last line,
# its completion marker "# completed: N checks", N written in the script.
# A script that is killed, times out, stops early or runs another number of
# checks than it says adds a "not ok" line of its own, so a partial run can
# never read as green.

results=${results:-/tmp/results}

# run_guest_script NAME SCRIPT SECONDS: runs SCRIPT under a timeout, prints
# its output and appends it to $results; then judges it whole. (No pipe into
# tee: it would lose timeout's status, and a timed-out script's children
# would hold the pipe open. The host reads the console only at the end.)
run_guest_script() {
	name=$1 script=$2 seconds=$3
	out=$results.$name
	status=0
	timeout "$seconds" sh "$script" >"$out" 2>&1 || status=$?
	cat "$out"
	ran=$(grep -cE '^(ok|not ok) ' "$out")
	planned=$(sed -n 's/^# completed: \([0-9][0-9]*\) checks$/\1/p' "$out" | tail -n1)
	cat "$out" >>"$results"
	if [ "$status" != 0 ]; then
		why="exit status $status (killed, or not done within ${seconds}s)"
	elif [ -z "$planned" ]; then
		why="no completion marker: the script stopped early"
	elif [ "$planned" != "$ran" ]; then
		why="$ran checks ran, the script says $planned"
	else
		echo "# $name: all $ran checks ran"
		return 0
	fi
	echo "not ok ${name}_ran_whole: $why, after $ran checks" | tee -a "$results"
	return 1
}

# guest_summary: the line the host looks for.
guest_summary() {
	echo "VMTEST: $(grep -c '^ok ' "$results") passed, $(grep -c '^not ok ' "$results") failed"
}
