"""Host ids and what killed runs leave (issue 12).

The host uids sandboxes run as come from a layout the operator may choose
(warrend.conf host_ids and host_ids_per_sandbox; warren run's
WARREN_HOST_IDS and WARREN_HOST_IDS_PER_SANDBOX), and never from what the
system reserves. A `warren run` killed with SIGKILL leaves its cgroups; the
next run, or warrend when it starts, removes them.
"""

import os
import signal
import subprocess

from daemon_fixture import pid_alive, start_daemon, wait_for, warrend  # noqa: F401 (fixtures)
from warrentest import EXIT_SETUP, run, warren_cgroups

# A layout of 512 ranges of 4096 ids, inside the default space (warrend leaves
# 256 ranges to warren run: it needs more than that).
FIRST, SIZE, COUNT = 0x7F000000, 4096, 512
LAST = FIRST + SIZE * COUNT - 1


def maps_in(text):
    """(inside, outside, count) of every line of uid_map and gid_map."""
    return [tuple(int(x) for x in line.split()) for line in text.splitlines() if line.strip()]


def test_warren_run_takes_its_host_ids_from_the_environment(warren):
    env = dict(os.environ, WARREN_HOST_IDS=f"{FIRST}-{LAST}", WARREN_HOST_IDS_PER_SANDBOX=str(SIZE))
    r = run(warren, "--", "cat", "/proc/self/uid_map", "/proc/self/gid_map", env=env)
    assert r.returncode == 0, r.stderr
    for inside, outside, count in maps_in(r.stdout):
        assert (inside, count) == (0, SIZE) and FIRST <= outside <= LAST - SIZE + 1, r.stdout
        assert (outside - FIRST) % SIZE == 0, r.stdout


def test_warren_run_refuses_host_ids_systemd_reserves(warren):
    for value, words in (("100000-700000", "65536-524287"), ("0x7FFE0000-0x7FFEFFFF", "foreign"),
                         ("lots", "FIRST-LAST")):
        env = dict(os.environ, WARREN_HOST_IDS=value)
        r = run(warren, "--", "true", env=env)
        assert r.returncode == EXIT_SETUP and "WARREN_HOST_IDS" in r.errors and words in r.errors, (value, r.stderr)
    r = run(warren, "--", "true", env=dict(os.environ, WARREN_HOST_IDS_PER_SANDBOX="999"))
    assert r.returncode == EXIT_SETUP and "WARREN_HOST_IDS_PER_SANDBOX" in r.errors, r.stderr


def test_warrend_takes_its_host_ids_from_its_configuration(start_daemon):
    d = start_daemon("--pool-size", "0", config_extra=f"host_ids = {FIRST}-{LAST}\nhost_ids_per_sandbox = {SIZE}\n")
    sids = [d.create()["id"] for _ in range(3)]
    bases = set()
    for sid in sids:
        for inside, outside, count in maps_in(d.exec(sid, cmd=["cat", "/proc/self/uid_map"])["stdout"]):
            assert (inside, count) == (0, SIZE) and FIRST <= outside and outside + count - 1 <= LAST
            bases.add(outside)
    assert len(bases) == 3, f"sessions share a range: {bases}"
    for sid in sids:
        d.remove(sid)


def test_warrend_refuses_host_ids_systemd_reserves(warrend, tmp_path):
    conf = tmp_path / "warrend.conf"
    conf.write_text("host_ids = 524288-600000\n")
    r = subprocess.run([warrend, "--config", str(conf), "--state-dir", str(tmp_path / "state"),
                        "--listen", f"unix:{tmp_path}/w.sock"], capture_output=True, text=True, timeout=20)
    assert r.returncode == 2 and "host_ids" in r.stderr and "must lie within" in r.stderr, r


def run_cgroups(pid):
    return sorted(c for c in warren_cgroups() if os.path.basename(c).startswith(f"run-{pid}-"))


def killed_run(warren):
    """A warren run killed with SIGKILL while its command runs: its cgroups stay."""
    p = subprocess.Popen([warren, "run", "--", "sleep", "300"], stdin=subprocess.DEVNULL)
    assert wait_for(lambda: run_cgroups(p.pid), 20), "the run made no cgroup"
    assert wait_for(lambda: any(os.path.exists(f"{d}/cgroup.procs") and open(f"{d}/cgroup.procs").read().strip()
                                for d in run_cgroups(p.pid)), 20)
    p.send_signal(signal.SIGKILL)
    p.wait()
    left = run_cgroups(p.pid)
    assert left, "the check itself: a killed run leaves its cgroups"
    return p.pid, left


def test_the_next_run_removes_what_a_killed_run_left(warren):
    pid, left = killed_run(warren)
    r = run(warren, "--", "true")
    assert r.returncode == 0, r.stderr
    assert not [d for d in left if os.path.exists(d)], f"cgroups of the run killed before: {run_cgroups(pid)}"
    assert not os.path.exists(f"/run/warren/runs/{os.path.basename(left[0])}"), "its marker stayed"


def test_warrend_removes_what_a_killed_run_left_when_it_starts(warren, start_daemon):
    pid, left = killed_run(warren)
    # a marker lost too (runs of older versions made none): warrend looks at every run-PID-* cgroup
    marker = f"/run/warren/runs/{os.path.basename(left[0])}"
    if os.path.exists(marker):
        os.unlink(marker)
    d = start_daemon()
    assert not [x for x in left if os.path.exists(x)], f"cgroups of the run killed before: {run_cgroups(pid)}"
    assert "removed" in d.log() and "warren runs that were killed" in d.log(), d.log()
    assert not pid_alive(pid)
