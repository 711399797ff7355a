"""The runner's own tests: a run that breaks must never count as green.

tests/run counts every suite through tests/runner/lib.sh; these tests drive
those same shell functions over runs that break the ways real runs do
(interrupted, killed, nothing collected, a collection error, a test
swallowed by a hook, a failure status with nothing failed, `make check`
failing outside any test, a unit program skipping, a script dying before its
closing line) and over the qemu guest's script runner (tests/vm/guest-lib.sh:
a guest script killed midway, timed out, or running fewer checks than it
says). Before these counts existed, the first five of those read as green.
No root needed; tests/run runs them first.
"""

import json
import os
import re
import shutil
import subprocess
import textwrap

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
LIB = os.path.join(HERE, "lib.sh")
CASES = os.path.join(HERE, "cases")


def bash(script, env=None, cwd=None):
    """Runs a bash snippet with lib.sh sourced; returns the CompletedProcess."""
    full_env = dict(os.environ)
    full_env.pop("WARREN_MUST_RUN", None)
    full_env.update(env or {})
    return subprocess.run(["bash", "-c", f'. "{LIB}"\n{script}'], capture_output=True, text=True, timeout=120,
                          env=full_env, cwd=cwd)


def counts(script, env=None, cwd=None):
    """(passed, failed, skipped, deselected lines, the run's output) after script ran a suite."""
    r = bash(f'{script}\necho; echo "COUNTS $suite_passed $suite_failed $suite_skipped"\n'
             f'printf "%s\\n" "$suite_deselected"', env, cwd)
    lines = r.stdout.splitlines()
    line = next(l for l in reversed(lines) if l.startswith("COUNTS "))
    p, f, s = (int(x) for x in line.split()[1:])
    deselected = [l for l in lines[lines.index(line) + 1:] if l]
    return p, f, s, deselected, r.stdout + r.stderr


def run_case(name):
    case = os.path.join(CASES, name)
    # The case directory is the whole world of its run: no conftest above it.
    return counts(f'run_pytest -o python_files="case_*.py" --rootdir="{case}" --confcutdir="{case}" "{case}"')


# --- pytest runs --------------------------------------------------------------------


def test_passing_run_counts_each_outcome():
    p, f, s, deselected, out = run_case("passing")
    assert (p, f, s) == (2, 0, 1), out
    assert "NOT TRUSTED" not in out


def test_failing_run_counts_its_failure_once():
    p, f, s, _, out = run_case("failing")
    assert (p, f, s) == (1, 1, 0), out
    assert "NOT TRUSTED" not in out


# Each of these once counted as green: the counts came from the junit file
# alone, whatever pytest's exit status.
@pytest.mark.parametrize("case, why", [
    ("interrupted", "pytest exited 2 (interrupted)"),
    ("empty", "pytest exited 5 (no tests collected)"),
    ("collect_error", "pytest exited 2 (interrupted)"),
    ("killed", "no readable junit report"),
    ("swallowed", "partial junit report: 2 tests selected, 1 reported"),
    ("status_without_failure", "pytest exited 1 but the junit report records no failure"),
])
def test_broken_run_is_a_failure(case, why):
    p, f, s, _, out = run_case(case)
    assert f >= 1, out
    assert f"NOT TRUSTED: {why}" in out, out


def test_deselected_test_counts_as_skipped_with_its_reason():
    p, f, s, deselected, out = run_case("deselected")
    assert (p, f, s) == (1, 0, 1), out
    assert deselected == ["case_backends.py::test_not_on_docker: on docker: the engine cannot"], out


def test_backend_deselections_carry_the_markers_reason(tmp_path):
    """daemon_fixture.deselect_other_backends names the backend and the
    marker's why= (collection only: no root, no daemon)."""
    report = tmp_path / "collection.json"
    env = dict(os.environ, WARREN_COLLECTION_REPORT=str(report), PYTHONPATH=HERE, WARREN_MUST_RUN="0")
    env.pop("WARREN_TEST_BACKENDS", None)
    r = subprocess.run(["/usr/bin/python3", "-m", "pytest", "-p", "no:cacheprovider", "-p", "collection_report",
                        "-q", "--collect-only", os.path.join(REPO, "tests/integration/test_daemon_exec.py")],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(report.read_text())
    assert doc["selected"] > 0
    reasons = {d["id"].split("::", 1)[1]: d["reason"] for d in doc["deselected"]}
    assert reasons, doc
    for test_id, reason in reasons.items():
        assert test_id.endswith("[docker]"), doc
        assert reason.startswith("on docker: an engine reports a death by signal"), doc


def test_narrowed_backends_refused_under_must_run():
    env = dict(os.environ, WARREN_MUST_RUN="1", WARREN_TEST_BACKENDS="native")
    r = subprocess.run(["/usr/bin/python3", "-m", "pytest", "-p", "no:cacheprovider", "-q", "--collect-only",
                        os.path.join(REPO, "tests/integration/test_cli.py")],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 4, r.stdout + r.stderr  # pytest's usage error
    assert "WARREN_TEST_BACKENDS='native' leaves out backends under WARREN_MUST_RUN=1" in r.stdout + r.stderr


def test_closing_line_names_deselections():
    r = bash('closing_line 5 0 3 "$(printf "%s\\n" "a.py::t1[docker]: on docker: no node" '
             '"a.py::t2[docker]: on docker: no node" "b.py::t3[oci]: on oci: other")"')
    assert r.stdout.strip() == "5 passed, 0 failed, 3 skipped (3 of them deselected: 2 on docker: no node; " \
                               "1 on oci: other)", r.stdout + r.stderr
    r = bash('closing_line 5 1 0 ""')
    assert r.stdout.strip() == "5 passed, 1 failed, 0 skipped"


# --- make check (automake's harness over check programs) -----------------------------


def fake_build(tmp_path, status, programs):
    """A build directory whose `make check` writes the given (name, result,
    log) files as automake's harness would, then exits with status."""
    unit = tmp_path / "tests" / "unit"
    unit.mkdir(parents=True)
    rules = ["check:"]
    for name, result, log in programs:
        (tmp_path / f"{name}.trs.in").write_text(f":test-result: {result}\n:global-test-result: {result}\n")
        (tmp_path / f"{name}.log.in").write_text(log)
        rules.append(f"\tcp {name}.trs.in tests/unit/{name}.trs")
        rules.append(f"\tcp {name}.log.in tests/unit/{name}.log")
    rules.append(f"\texit {status}")
    (tmp_path / "Makefile").write_text("\n".join(rules) + "\n")
    return str(tmp_path)


CHECKS_OK = "Running suite(s): x\n100%: Checks: 4, Failures: 0, Errors: 0\n"
CHECKS_ONE_FAILED = "Running suite(s): x\n75%: Checks: 4, Failures: 1, Errors: 0\nx.c:9:F:core:t:0: nope\n"
SKIPPED = "Running suite(s): x\n100%: Checks: 2, Failures: 0, Errors: 0\nSKIP: 1 test needs root: t_identity\n"


def test_make_check_all_passing(tmp_path):
    build = fake_build(tmp_path, 0, [("test-a", "PASS", CHECKS_OK), ("test-b", "PASS", CHECKS_OK)])
    assert counts(f'run_make_check "{build}"')[:3] == (8, 0, 0)


def test_make_check_failed_test_counted(tmp_path):
    build = fake_build(tmp_path, 2, [("test-a", "PASS", CHECKS_OK), ("test-b", "FAIL", CHECKS_ONE_FAILED)])
    assert counts(f'run_make_check "{build}"')[:3] == (7, 1, 0)


# Once green: make check's status was read only when no count said otherwise.
@pytest.mark.parametrize("status, programs, why", [
    (2, [("test-a", "PASS", CHECKS_OK)], "make check exited 2 with no failure recorded"),
    (2, [], "no test results (.trs)"),
    (1, [("test-a", "FAIL", "Running suite(s): x\n")], "test-a: FAIL with no failed check recorded"),
    (0, [("test-a", "PASS", "")], "test-a passed without a check closing line"),
])
def test_make_check_broken_run_is_a_failure(tmp_path, status, programs, why):
    build = fake_build(tmp_path, status, programs)
    p, f, s, _, out = counts(f'run_make_check "{build}"')
    assert f >= 1 and why in out, out


def test_unit_skip_is_visible_and_fails_under_must_run(tmp_path):
    build = fake_build(tmp_path, 0, [("test-a", "SKIP", SKIPPED)])
    p, f, s, _, out = counts(f'run_make_check "{build}"')
    assert (p, f, s) == (2, 0, 1), out
    assert "test-a: skipped: SKIP: 1 test needs root: t_identity" in out
    p, f, s, _, out = counts(f'run_make_check "{build}"', env={"WARREN_MUST_RUN": "1"})
    assert (p, f, s) == (2, 1, 0), out
    assert "test-a skipped under WARREN_MUST_RUN=1" in out


# --- scripts with a closing line (ci-sanitizers, ci-valgrind, the qemu guest, soak, fuzz) ---


@pytest.mark.parametrize("kind, output, status, expected", [
    ("script", "X: 3 passed, 0 failed", 0, (3, 0, 0)),
    ("script", "X: 3 passed, 2 failed, 1 skipped", 1, (3, 2, 1)),
    ("script", "X: 3 passed, 0 failed", 1, (3, 1, 0)),       # exit 1 with no failure counted
    ("script", "X: 0 passed, 0 failed", 0, (0, 1, 0)),       # ran nothing
    ("script", "X: 3 passed, 1 failed", 0, (3, 2, 0)),       # exit 0 with a failure counted
    ("script", "half way", 137, (0, 1, 0)),                  # killed before its closing line
    ("script", "SKIP: needs root", 77, (0, 0, 1)),
    ("soak", "X: 0 errors, p99 create 3 ms", 0, (1, 0, 0)),
    ("soak", "X: 0 errors, p99 create 3 ms", 1, (0, 1, 0)),
    ("soak", "X: 2 errors, p99 create 3 ms", 1, (0, 1, 0)),
    ("fuzz", "X: 6 targets, 0 crashes", 0, (6, 0, 0)),
    ("fuzz", "X: 6 targets, 1 crashes", 1, (5, 1, 0)),
    ("fuzz", "X: 0 targets, 0 crashes", 0, (0, 1, 0)),
    ("fuzz", "no line", 1, (0, 1, 0)),
])
def test_script_counts(kind, output, status, expected):
    got = counts(f"run_script {kind} X bash -c 'echo \"{output}\"; exit {status}'")
    assert got[:3] == expected, got


def test_script_skip_fails_under_must_run():
    got = counts("run_script script X bash -c 'echo SKIP: needs root; exit 77'", env={"WARREN_MUST_RUN": "1"})
    assert got[:3] == (0, 1, 0), got
    got = counts("run_script script X bash -c 'echo \"X: 1 passed, 0 failed, 1 skipped\"'",
                 env={"WARREN_MUST_RUN": "1"})
    assert got[:3] == (1, 1, 1), got


# --- the qemu guest's script runner (tests/vm/guest-lib.sh) --------------------------------


def guest_shell():
    """The guest runs busybox sh; the host's sh stands in without busybox."""
    busybox = shutil.which("busybox")
    return [busybox, "sh"] if busybox else ["sh"]


def run_guest(tmp_path, script, seconds=20):
    """Runs one fake guest script through run_guest_script and the summary
    line; returns the output."""
    path = tmp_path / "fake-tests.sh"
    path.write_text(textwrap.dedent(script))
    results = tmp_path / "results"
    driver = (f'results={results}; . {REPO}/tests/vm/guest-lib.sh; : >"$results"\n'
              f'run_guest_script fake {path} {seconds}\nguest_summary\n')
    r = subprocess.run([*guest_shell(), "-c", driver], capture_output=True, text=True, timeout=60)
    return r.stdout + r.stderr


def test_guest_script_whole_run_passes(tmp_path):
    out = run_guest(tmp_path, """
        echo "ok one"
        echo "ok two"
        echo "# completed: 2 checks"
    """)
    assert "VMTEST: 2 passed, 0 failed" in out, out


# Each once green: only the ok/not ok lines printed so far were counted.
@pytest.mark.parametrize("script, seconds, why", [
    ('echo "ok one"; kill -9 $$; echo "ok two"; echo "# completed: 2 checks"', 20,
     "exit status 137 (killed, or not done within 20s), after 1 checks"),
    ('echo "ok one"; sleep 30; echo "ok two"; echo "# completed: 2 checks"', 1,
     "(killed, or not done within 1s), after 1 checks"),
    ('echo "ok one"; exit 0; echo "ok two"; echo "# completed: 2 checks"', 20,
     "no completion marker: the script stopped early, after 1 checks"),
    ('echo "ok one"; echo "# completed: 2 checks"', 20, "1 checks ran, the script says 2, after 1 checks"),
], ids=["killed-midway", "timed-out", "stopped-early", "count-mismatch"])
def test_partial_guest_script_is_a_failure(tmp_path, script, seconds, why):
    out = run_guest(tmp_path, script, seconds)
    assert "not ok fake_ran_whole: " in out and why in out, out
    assert "VMTEST: 1 passed, 1 failed" in out, out


@pytest.mark.parametrize("script, runs", [("cgroup-v2-tests.sh", 1), ("oci-tests.sh", 2), ("systemd-tests.sh", 3)])
def test_guest_scripts_marker_counts_their_checks(script, runs):
    """Each real guest script ends with its marker, and the number in it is
    its distinct check names (pass NAME / fail NAME), those named after a
    variable (${rt}, ${name}) counted once per value they run with
    (oci-tests.sh: crun and runc; native and oci; systemd-tests.sh: after
    a restart, a crash and a reload), the others once; check NAME is one."""
    with open(os.path.join(REPO, "tests", "vm", script)) as f:
        text = f.read()
    names = set(re.findall(r"^\s*(?:pass|fail|check) (\S+)", text, re.M)) - {"${rt}_$check"}  # the start-up failure loop
    expected = sum(runs if "${" in name else 1 for name in names)
    last = text.rstrip().splitlines()[-1]
    assert last == f'echo "# completed: {expected} checks"', (last, sorted(names))
