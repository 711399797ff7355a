# shellcheck shell=bash disable=SC2034 # suite_* are what the callers read
# Counting test runs so that a broken run never reads as green; sourced by
# tests/run and scripts/ci-sanitizers, checked by tests/runner/test_runner.py.
#
# Each run_* function runs one suite and sets
#   suite_passed suite_failed suite_skipped   its counts
#   suite_deselected                          "NODEID: REASON" lines, one per test
#                                             deselected on purpose (also in suite_skipped)
# A run whose exit status, report or test count cannot be trusted (pytest
# interrupted, nothing collected, a missing or partial junit report, a
# failure status with no failure recorded, `make check` failing with no
# failed test) counts one more failure, and the reason is printed.

runner_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# _suite_counts COUNT.PY-ARGS...: sets suite_* from count.py's answer.
_suite_counts() {
	local out
	if ! out=$(/usr/bin/python3 "$runner_dir/count.py" "$@"); then
		suite_passed=0 suite_failed=1 suite_skipped=0 suite_deselected=""
		return
	fi
	read -r suite_passed suite_failed suite_skipped <<<"$(head -n1 <<<"$out")"
	suite_deselected=$(sed -n 's/^deselected //p' <<<"$out")
}

# run_pytest PYTEST-ARGS...: one pytest run, judged by its exit status, its
# junit report and what it collected (tests/runner/collection_report.py).
run_pytest() {
	local junit collection status
	junit=$(mktemp /tmp/warren-junit-XXXXXX.xml)
	collection=$(mktemp /tmp/warren-collection-XXXXXX.json)
	rm -f "$junit" "$collection" # only pytest may create them
	WARREN_COLLECTION_REPORT=$collection PYTHONPATH=$runner_dir${PYTHONPATH:+:$PYTHONPATH} \
		/usr/bin/python3 -m pytest -p no:cacheprovider -p collection_report -q -rfEs \
		--junitxml="$junit" "$@"
	status=$?
	_suite_counts pytest "$status" "$junit" "$collection"
	rm -f "$junit" "$collection"
}

# run_make_check BUILDDIR: `make check` in BUILDDIR, judged by its exit
# status and each program's .trs result and check log (a skipped program,
# exit 77, counts as a skip, or as a failure under WARREN_MUST_RUN=1).
run_make_check() {
	local build=$1 status
	make -C "$build" -s check >/dev/null 2>&1
	status=$?
	_suite_counts automake "$status" "$build/tests/unit"
	local log
	for log in "$build"/tests/unit/*.log; do
		[ -f "$log" ] || continue
		echo "$(basename "$log" .log): $(grep -E '^[0-9]+%: Checks: [0-9]+|^SKIP' "$log" | tail -1)"
		grep -E ':[EF]:' "$log"
	done
}

# closing_line PASSED FAILED SKIPPED DESELECTED-LINES: the line a run ends
# with; deselected tests are counted in the skips and their reasons named.
closing_line() {
	local line="$1 passed, $2 failed, $3 skipped"
	if [ -n "$4" ]; then
		local n reasons
		n=$(grep -c . <<<"$4")
		# "NODEID: REASON" -> REASON, each distinct reason once
		reasons=$(sed -E 's/^[^ ]+: //' <<<"$4" | sort | uniq -c | sed -E 's/^ *([0-9]+) /\1 /' | paste -sd';' | sed 's/;/; /g')
		line="$line ($n of them deselected: $reasons)"
	fi
	echo "$line"
}

# run_script KIND TAG CMD...: a script judged by its closing line (the last
# line starting "TAG: ") and its exit status; KIND is how count.py reads
# that line: script ("TAG: N passed, N failed[, N skipped]"), soak or fuzz.
run_script() {
	local kind=$1 tag=$2 out status line
	shift 2
	out=$(mktemp /tmp/warren-suite-XXXXXX.log)
	"$@" 2>&1 | tee "$out"
	status=${PIPESTATUS[0]}
	line=$(grep -aE "^$tag: " "$out" | tail -1)
	rm -f "$out"
	_suite_counts "$kind" "$status" "$line"
}
