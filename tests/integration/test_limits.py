"""Resource limits: memory (OOM kill reported), processes (fork bombs capped),
CPU, wall-clock timeout (kills everything the command started), and flags that
may tighten a policy but never loosen it. Every bomb runs inside a sandbox,
bounded by its limits and a --timeout."""

import json
import re

import pytest

from warrentest import EXIT_SETUP, EXIT_TIMEOUT, python_in_sandbox, run

MEMORY_BOMB = (
    "x = []\n"
    "while True:\n"
    "    x.append(bytearray(1 << 20))\n")


def test_memory_bomb_is_oom_killed_and_reported(warren):
    r = run(warren, "--memory", "64M", "--timeout", "30s", *python_in_sandbox(MEMORY_BOMB))
    assert r.returncode == 137, r.stderr
    assert "warren: killed: out of memory (limit 64M)" in r.stderr.splitlines()  # not the timeout's 124


def test_sigkill_is_not_reported_as_out_of_memory(warren):
    r = run(warren, "--", "sh", "-c", "kill -KILL $$")
    assert r.returncode == 137
    assert "out of memory" not in r.stderr


# Forks children that sleep until fork fails; prints how many it got and why it stopped.
FORK_COUNT = r"""
import errno, os, time
n = 0
while n < 10000:
    try:
        pid = os.fork()
    except OSError as e:
        print(n, errno.errorcode[e.errno]); break
    if pid == 0:
        time.sleep(60); os._exit(0)
    n += 1
"""


def test_fork_bomb_is_capped_by_pids_flag(warren):
    r = run(warren, "--pids", "16", "--timeout", "20s", *python_in_sandbox(FORK_COUNT))
    assert r.returncode == 0, r.stderr
    n, why = r.stdout.split()
    assert why == "EAGAIN" and int(n) < 16, f"{n} forks under --pids 16 ({why})"
    # (exit 0, not the timeout's 124: warren did not wait for the children's 60 s sleeps)


def test_policy_pids_limit_applies_without_flags(warren, tmp_path):
    policy = tmp_path / "small.json"
    policy.write_text(json.dumps({"version": 1, "name": "small", "limits": {"pids": 24}}))
    r = run(warren, "--policy", str(policy), "--timeout", "20s", *python_in_sandbox(FORK_COUNT))
    assert r.returncode == 0, r.stderr
    n, why = r.stdout.split()
    assert why == "EAGAIN" and int(n) < 24, f"{n} forks under a policy of 24 pids ({why})"


def test_shell_fork_bomb_ends_at_timeout_and_is_cleaned_up(warren):
    r = run(warren, "--pids", "64", "--timeout", "2s", "--", "sh", "-c", "exec 2>/dev/null; b() { b | b & }; b; sleep 30")
    assert r.returncode == EXIT_TIMEOUT, r.stderr
    assert "warren: killed: timeout after 2s" in r.stderr.splitlines()


def test_timeout_kills_double_forked_child(warren, workspace):
    beat = workspace / "beat"
    r = run(warren, "--workspace", str(workspace), "--timeout", "1s", "--", "sh", "-c",
            "(setsid sh -c 'while :; do echo beat >> /workspace/beat; sleep 0.05; done' &); sleep 30")
    assert r.returncode == EXIT_TIMEOUT, r.stderr
    assert "warren: killed: timeout after 1s" in r.stderr.splitlines()
    assert beat.exists(), "the double-forked child never ran"
    # run() found none of the sandbox's processes left once warren returned
    # (assert_sandbox_gone): the beating child is gone too.
    assert r.sandbox.uid_first >= 0 and r.sandbox.cgroup_dirs, r.stderr


def test_command_exit_ends_its_background_processes(warren):
    # Had warren waited for them, run() would give up at its 60 s ceiling
    # (the sleeps last 300 s); it also checks they are gone.
    r = run(warren, "--", "sh", "-c", "(setsid sleep 300 &); sleep 300 & exit 3")
    assert r.returncode == 3, r.stderr


CPU_SPIN = r"""
import os, time
deadline = time.monotonic() + 1.0
kids = []
for _ in range(2):
    pid = os.fork()
    if pid == 0:
        while time.monotonic() < deadline:
            pass
        os._exit(0)
    kids.append(pid)
for pid in kids:
    os.waitpid(pid, 0)
t = os.times()
print(t.children_user + t.children_system)
"""


def test_cpus_flag_throttles_cpu_time(warren):
    r = run(warren, "--cpus", "0.5", "--", "python3", "-c", CPU_SPIN)
    assert r.returncode == 0, r.stderr
    used = float(r.stdout)
    # Two busy processes for one second of wall time get ~0.5s of CPU under --cpus 0.5
    # (cpu.max: 50 ms per 100 ms period). Not a speed: a loaded host only lowers the
    # figure; only a missing quota raises it (to ~2 s here).
    assert used < 0.8, f"{used:.2f}s of CPU in 1s of wall time under --cpus 0.5"


@pytest.mark.parametrize("flag,value,limit", [
    ("--memory", "2G", "512M"),
    ("--pids", "100000", "256"),
    ("--cpus", "4", "1"),
    ("--timeout", "1h", "5m"),
    ("--workspace-size", "2G", "1G"),
    ("--tmp-size", "1G", "256M"),
])
def test_flags_cannot_loosen_the_policy(warren, flag, value, limit):
    r = run(warren, flag, value, "--", "true")
    assert r.returncode == EXIT_SETUP
    assert f"{flag} {value}" in r.errors and limit in r.errors, r.stderr


def test_flags_cannot_loosen_a_policy_file(warren, tmp_path):
    policy = tmp_path / "tight.json"
    policy.write_text(json.dumps({"version": 1, "name": "tight", "limits": {"memory": "128M"}}))
    r = run(warren, "--policy", str(policy), "--memory", "256M", "--", "true")
    assert r.returncode == EXIT_SETUP
    assert "--memory 256M" in r.errors and "128M" in r.errors, r.stderr


def test_flags_tighten_the_policy(warren):
    r = run(warren, "--memory", "100M", "--pids", "50", "--cpus", "0.5", "--timeout", "7s", "--", "true")
    assert r.returncode == 0, r.stderr
    line = next(l for l in r.stderr.splitlines() if re.match(r"warren: cgroup v[12] ", l))
    assert re.search(r"memory 100M, pids 50, cpus 0\.5; timeout 7s", line), line
