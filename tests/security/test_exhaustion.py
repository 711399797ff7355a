"""Exhaustion: fork bomb, memory bomb, full /tmp and /workspace, fd
exhaustion, 1 GiB of output, a command that ignores SIGTERM at its timeout,
a zombie farm and a CPU spinner. Each must stay inside the sandbox's limits
while the host, the daemon and other sessions carry on."""

import re
import shutil
import subprocess
import threading
import time

import pytest

from battery import DaemonBackend, host_check, policy_rlimits

BATTERY = {"policy": "battery"}


def run_options(battery_policy, *more):
    return ["-p", battery_policy, *more]


def host_responsive(daemon=None):
    """The host can still fork and exec (a hang ceiling of 30 s, not a speed)."""
    try:
        ok = subprocess.run(["true"], timeout=30).returncode == 0
    except subprocess.TimeoutExpired:
        ok = False
    host_check(ok, "the host could not run true within 30 s")
    if daemon:
        host_check(daemon.alive(), "warrend stopped answering")


def test_fork_bomb(sandbox, battery_policy):
    if sandbox.name == "run":
        out = sandbox.attack("forkbomb", "3", options=run_options(battery_policy, "--timeout", "15s"))
    else:
        out = sandbox.attack("forkbomb", "3", session=BATTERY, timeout="15s")
    out.count_blocked("blocked: the process limit held" in out.stdout, "the fork bomb was not capped")
    host_responsive(getattr(sandbox, "daemon", None))


def test_memory_bomb_reported_oom_killed(sandbox, battery_policy):
    if sandbox.name == "run":
        out = sandbox.attack("membomb", "1024", options=run_options(battery_policy, "-m", "64M"))
        out.count_blocked(out.exit_code == 137 and "out of memory" in out.stderr,
                          "not reported as an out-of-memory kill")
    else:
        out = sandbox.attack("membomb", "1024", session={"policy": "battery", "limits": {"memory": "64M"}})
        out.count_blocked(out.extra["result"]["oom_killed"] is True and out.signal == 9,
                          f"not reported as oom_killed: {out.extra['result']}")
    host_responsive(getattr(sandbox, "daemon", None))


@pytest.mark.parametrize("where", ["/tmp", "/workspace"])
def test_fill_tmp_and_workspace(sandbox, battery_policy, where):
    free_before = shutil.disk_usage("/tmp").free
    if sandbox.name == "run":
        out = sandbox.attack("fill", where, "256", private=True,
                             options=run_options(battery_policy, "--tmp-size", "16M", "--workspace-size", "16M"))
    else:
        out = sandbox.attack("fill", where, "256", session=BATTERY)
    out.count_blocked("blocked: ENOSPC" in out.stdout and "ESCAPED" not in out.stdout,
                      f"{where} did not fill up with ENOSPC")
    written = int(out.stdout.split("fill: ")[1].split()[0])
    host_check(written <= 17 << 20, f"{written} bytes went into a 16M {where}")
    host_check(shutil.disk_usage("/tmp").free > free_before - (64 << 20), "the host's disk lost space")
    host_responsive(getattr(sandbox, "daemon", None))


def test_fd_exhaustion(sandbox):
    """No fd number reaches the policy's nofile, and the last open fails
    with EMFILE."""
    sandbox.attack("fdbomb", policy_rlimits()["nofile"]).assert_blocked()
    host_responsive(getattr(sandbox, "daemon", None))


def test_policy_rlimits_applied(sandbox):
    """The default policy's core, nofile and fsize, soft and hard alike; no
    raising them; a write at the fsize limit fails with EFBIG."""
    rl = policy_rlimits()
    assert "unlimited" not in rl.values(), f"policy/default.json leaves one unlimited: {rl}"
    sandbox.attack("rlimits", rl["core"], rl["nofile"], rl["fsize"]).assert_blocked()


def test_zombie_farm(sandbox):
    sandbox.attack("zombies", "200").assert_blocked()


def test_command_ignoring_sigterm_at_timeout(sandbox):
    """The command and a setsid() double-forked descendant ignore SIGTERM;
    the timeout must still end everything within a few seconds."""
    if sandbox.name == "run":
        out = sandbox.attack("ignore_term", options=["--timeout", "2s"], timeout=30)
        ok = out.exit_code == 124
    else:
        d = sandbox.daemon
        sid = sandbox.session()
        try:
            out = sandbox.run_in(sid, "ignore_term", timeout="2s")
            ok = out.extra["result"]["timed_out"] is True
            left = d.exec(sid, {"shell": "ps -eo pid,args | grep -c '[t]rap' || true"})
            host_check(left["stdout"].strip() == "0", f"the descendant outlived the timeout: {left}")
        finally:
            d.delete(sid)
    # A hang ceiling, not a speed: the program never ends by itself, and the
    # harness would kill it only at 30 s.
    out.count_blocked(ok and out.extra["seconds"] < 20,
                      f"timeout not enforced in time ({out.extra['seconds']:.1f} s, exit {out.exit_code})")


def wait_for_exec_running(daemon, sid, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = daemon.request("GET", f"/v1/sessions/{sid}")
        if r.status == 200 and r.json()["execs_running"] >= 1:
            return True
        time.sleep(0.05)
    return False


def spin_result(out):
    m = re.search(r"SPIN cpu=([0-9.]+) wall=([0-9.]+)", out.stdout)
    assert m, f"the spinner did not report: {out.stdout} {out.stderr}"
    return float(m.group(1)), float(m.group(2))


def test_cpu_spinner_is_capped(warren, attack_dir, battery_policy):
    from battery import RunBackend
    out = RunBackend(warren, attack_dir).attack("spin", "3", "2", options=run_options(battery_policy, "--cpus", "0.5"))
    cpu, wall = spin_result(out)
    out.count_blocked(cpu <= 0.5 * wall * 1.25, f"used {cpu:.2f} CPU seconds in {wall:.2f} s with --cpus 0.5")


def test_cpu_spinner_leaves_other_sessions_responsive(daemon, attack_path):
    """Session B runs commands to completion while A spins, and A stays
    within its CPU limit. (How much B's exec latency suffers is a figure:
    bench/neighbours measures it beside B's latency with A idle.)"""
    be = DaemonBackend(daemon, attack_path)
    a = be.session(policy="battery", limits={"cpus": 0.5})
    b = daemon.create()
    spun = {}
    try:
        spinner = threading.Thread(target=lambda: spun.update(out=be.run_in(a, "spin", "6", "2")))
        spinner.start()
        host_check(wait_for_exec_running(daemon, a), "the spinner never started")
        done_while_spinning = 0
        while spinner.is_alive() and done_while_spinning < 3:
            r = daemon.exec(b, {"cmd": ["true"]})  # each bounded by the request's timeout
            assert r["exit_code"] == 0, r
            done_while_spinning += spinner.is_alive()
        spinner.join(timeout=30)
        out = spun["out"]
        cpu, wall = spin_result(out)
        host_check(done_while_spinning == 3, f"session B finished {done_while_spinning} execs in A's {wall:.1f} s spin")
        out.count_blocked(cpu <= 0.5 * wall * 1.25, f"A used {cpu:.2f} CPU seconds in {wall:.2f} s with cpus 0.5")
    finally:
        daemon.delete(a)
        daemon.delete(b)


def test_one_gib_of_stdout(daemon):
    """Capped at the exec's output limit, reported truncated, and the
    daemon's memory stays bounded (VmRSS before and after)."""
    sid = daemon.create()
    try:
        rss_before = daemon.rss_kib()
        for stream in (False, True):
            body = {"shell": "head -c 1G /dev/zero | tr '\\0' x", "output": "1M", "timeout": "60s",
                    "stream": stream}
            r = daemon.request("POST", f"/v1/sessions/{sid}/exec", body, timeout=120)
            host_check(r.status == 200, f"{r.status} {r.body[:300]!r}")
            if stream:
                final = r.body.rsplit(b"event: exit\ndata: ", 1)[1].split(b"\n")[0]
                import json
                res = json.loads(final)
                size = len(r.body)
            else:
                res = r.json()
                size = len(res["stdout"])
            from battery import STATS
            STATS["attempts"] += 1
            assert res["truncated"] is True and size <= 2 << 20, \
                f"stream={stream}: {size} bytes, result {dict((k, v) for k, v in res.items() if k != 'stdout')}"
            STATS["blocked"] += 1
            # The command's own 60 s timeout is the ceiling: it ran to its end.
            host_check(res["timed_out"] is False, f"stream={stream}: 1 GiB of output hit the 60 s timeout")
        rss_after = daemon.rss_kib()
        host_check(rss_after - rss_before < 64 * 1024,
                   f"warrend's VmRSS grew from {rss_before} to {rss_after} KiB")
    finally:
        daemon.delete(sid)
