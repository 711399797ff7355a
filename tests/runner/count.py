#!/usr/bin/python3
"""How many tests of one run passed, failed and were skipped, judged so
that a broken run can never count as green (tests/runner/lib.sh calls it;
tests/runner/test_runner.py checks it against runs that break).

  count.py pytest STATUS JUNIT COLLECTION   a pytest run: its exit status,
      its --junitxml file and the report collection_report.py wrote
  count.py automake STATUS DIR              `make check`: its exit status and
      the directory of its .trs/.log files
  count.py script STATUS LINE               a script ending "TAG: N passed,
      N failed[, N skipped]" (LINE is that line, empty if it never came)
  count.py soak STATUS LINE                 tests/soak/soak: "SOAK: N errors, ..."
  count.py fuzz STATUS LINE                 scripts/ci-fuzz: "FUZZ: N targets, N crashes"

Prints one line "PASSED FAILED SKIPPED" on stdout, then one line per
deselected test ("deselected NODEID: REASON"); every reason the run is not
trusted goes to stderr and adds one failure. Under WARREN_MUST_RUN=1 a
skipped unit test program or script (exit 77) counts as a failure (pytest suites turn their own
skips into failures, see tests/integration/conftest.py).
"""

import glob
import json
import os
import re
import sys
import xml.etree.ElementTree as ET

# pytest's exit statuses (pytest.ExitCode): only these two mean "every
# collected test ran and its outcome is in the report".
PYTEST_OK, PYTEST_TESTS_FAILED = 0, 1
PYTEST_STATUS = {2: "interrupted", 3: "internal error", 4: "usage error", 5: "no tests collected"}
AUTOMAKE_SKIP = 77


def junit_outcomes(path):
    """{testcase id: "passed" | "failed" | "skipped"} from a junit file. A
    test that passed and then errored in teardown is one failed test."""
    outcomes = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        key = (case.get("classname", ""), case.get("name", ""))
        tags = {child.tag for child in case}
        if tags & {"failure", "error"}:
            outcome = "failed"
        elif "skipped" in tags:
            outcome = "skipped"
        else:
            outcome = "passed"
        if outcomes.get(key) != "failed":
            outcomes[key] = outcome
    return outcomes


def count_pytest(status, junit, collection):
    problems = []
    if status not in (PYTEST_OK, PYTEST_TESTS_FAILED):
        problems.append(f"pytest exited {status} ({PYTEST_STATUS.get(status, 'killed or crashed')})")
    try:
        outcomes = junit_outcomes(junit)
    except (OSError, ET.ParseError) as e:
        problems.append(f"no readable junit report ({e})")
        outcomes = {}
    try:
        with open(collection) as f:
            collected = json.load(f)
    except (OSError, ValueError) as e:
        problems.append(f"no collection report ({e}): was pytest run with -p collection_report?")
        collected = {"selected": None, "deselected": []}
    values = list(outcomes.values())
    passed, failed, skipped = (values.count(o) for o in ("passed", "failed", "skipped"))
    if not outcomes and not problems:
        problems.append("pytest ran zero tests")
    if status == PYTEST_TESTS_FAILED and failed == 0:
        problems.append("pytest exited 1 but the junit report records no failure")
    selected = collected["selected"]
    if selected is not None and outcomes and len(outcomes) < selected:
        problems.append(f"partial junit report: {selected} tests selected, {len(outcomes)} reported")
    deselected = collected["deselected"]
    return passed, failed + len(problems), skipped + len(deselected), problems, deselected


CHECK_LINE = re.compile(r"^\d+%: Checks: (\d+), Failures: (\d+), Errors: (\d+)", re.M)


def count_automake(status, directory, must_run):
    """Each program's result from its .trs file; its check tests from the
    log's closing line "N%: Checks: N, Failures: N, Errors: N"."""
    problems = []
    passed = failed = skipped = 0
    results = sorted(glob.glob(os.path.join(directory, "*.trs")))
    for trs in results:
        name = os.path.basename(trs)[:-4]
        with open(trs, errors="replace") as f:
            m = re.search(r"^:test-result: (\S+)", f.read(), re.M)
        result = m.group(1) if m else "none"
        try:
            with open(trs[:-4] + ".log", errors="replace") as f:
                log = f.read()
        except OSError:
            log = ""
        checks = CHECK_LINE.findall(log)
        if checks:
            total, failures, errors = (int(x) for x in checks[-1])
            passed += total - failures - errors
            failed += failures + errors
        if result == "SKIP":
            why = "; ".join(l for l in log.splitlines() if l.startswith("SKIP")) or "no reason given"
            if must_run:
                problems.append(f"{name} skipped under WARREN_MUST_RUN=1: {why}")
            else:
                skipped += 1
                print(f"{name}: skipped: {why}", file=sys.stderr)
        elif result == "PASS" and not checks:
            problems.append(f"{name} passed without a check closing line (ran no test?)")
        elif result != "PASS" and not (checks and int(checks[-1][1]) + int(checks[-1][2])):
            problems.append(f"{name}: {result} with no failed check recorded")
    if not results:
        problems.append(f"no test results (.trs) in {directory}")
    if status != 0 and failed == 0 and not problems:
        problems.append(f"make check exited {status} with no failure recorded")
    return passed, failed + len(problems), skipped, problems, []


SCRIPT_LINE = re.compile(r"^\S+: (\d+) passed, (\d+) failed(?:, (\d+) skipped)?")


def count_script(status, line, must_run):
    """A script's closing line and exit status must agree, and it must
    have run something; exit 77 without a closing line is a skip."""
    m = SCRIPT_LINE.match(line)
    if not m:
        if status == AUTOMAKE_SKIP and not must_run:
            print("the script skipped (exit 77): see its output above", file=sys.stderr)
            return 0, 0, 1, [], []
        what = "skipped (exit 77) under WARREN_MUST_RUN=1" if status == AUTOMAKE_SKIP else f"exited {status}"
        return 0, 1, 0, [f"no closing line; the script {what}"], []
    passed, failed, skipped = (int(g or 0) for g in m.groups())
    problems = []
    if passed + failed == 0:
        problems.append("the script ran zero tests")
    if status != 0 and failed == 0:
        problems.append(f"the script exited {status} with no failure counted")
    if status == 0 and failed:
        problems.append(f"the script exited 0 with {failed} failures counted")
    if skipped and must_run:
        problems.append(f"{skipped} skipped under WARREN_MUST_RUN=1")
    return passed, failed + len(problems), skipped, problems, []


def count_soak(status, line):
    m = re.match(r"^\S+: (\d+) errors", line)
    problems = []
    if not m:
        problems.append(f"no SOAK closing line (exit {status})")
    elif status != 0 or int(m.group(1)):
        problems.append(f"soak exited {status} with {m.group(1)} errors")
    return (0 if problems else 1), len(problems), 0, problems, []


def count_fuzz(status, line):
    m = re.match(r"^\S+: (\d+) targets, (\d+) crashes", line)
    if not m:
        return 0, 1, 0, [f"no FUZZ closing line (exit {status})"], []
    targets, crashes = int(m.group(1)), int(m.group(2))
    problems = []
    if targets == 0:
        problems.append("no fuzz target ran")
    if status != 0 and crashes == 0:
        problems.append(f"ci-fuzz exited {status} with no crash counted")
    return targets - crashes, crashes + len(problems), 0, problems, []


def main(argv):
    kind = argv[1]
    if kind == "pytest":
        result = count_pytest(int(argv[2]), argv[3], argv[4])
    elif kind == "automake":
        result = count_automake(int(argv[2]), argv[3], os.environ.get("WARREN_MUST_RUN") == "1")
    elif kind == "script":
        result = count_script(int(argv[2]), argv[3], os.environ.get("WARREN_MUST_RUN") == "1")
    elif kind == "soak":
        result = count_soak(int(argv[2]), argv[3])
    elif kind == "fuzz":
        result = count_fuzz(int(argv[2]), argv[3])
    else:
        print(f"count.py: unknown kind {kind!r}", file=sys.stderr)
        return 2
    passed, failed, skipped, problems, deselected = result
    for p in problems:
        print(f"NOT TRUSTED: {p}", file=sys.stderr)
    print(passed, failed, skipped)
    for d in deselected:
        print(f"deselected {d['id']}: {d['reason']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
