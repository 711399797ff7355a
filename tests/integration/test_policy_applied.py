"""A policy's rlimits and mounts reach the command, end to end
(warren-policy(5)): read back inside sandboxes of `warren run` and of
warrend sessions on every backend, not only parsed.

  rlimits  set soft and hard alike before the command starts; the default
           policy's {"core": 0, "nofile": 1024, "fsize": "1G", "stack": "8M"},
           and a written object replaces it (fsize then enforced: EFBIG);
  mounts   host directories bound read-only at their target (EROFS on write).
"""

import json
import os
import shutil
import tempfile

import pytest

from daemon_fixture import Daemon, stop_and_check, warrend  # noqa: F401 (fixtures)
from warrentest import BACKENDS, REPO, backend_unavailable, python_in_sandbox, run

MiB = 1 << 20
GiB = 1 << 30

# /proc/self/limits rows, by the policy's names, in the probe's order.
LIMIT_ORDER = ("core", "nofile", "fsize", "stack")
LIMIT_ROWS = {"core": "Max core file size", "nofile": "Max open files", "fsize": "Max file size",
              "stack": "Max stack size"}
DEFAULT_RLIMITS = {"core": (0, 0), "nofile": (1024, 1024), "fsize": (GiB, GiB), "stack": (8 * MiB, 8 * MiB)}
WRITTEN_RLIMITS = {"core": 0, "nofile": 64, "fsize": "1M"}

# Inside the sandbox: the four limits (soft, hard), what writing 2 MiB does
# under them, then the mount given as the last argument: its file, a write
# into it, its mount option.
PROBE = r"""
import errno, json, signal, sys
rows = dict((l[:26].strip(), l[26:].split()[:2]) for l in open("/proc/self/limits").read().splitlines()[1:])
print(json.dumps([rows[n] for n in sys.argv[1:5]]))
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
try:
    with open("/workspace/big", "wb") as f:
        f.write(b"x" * (2 << 20))
    print("wrote 2M")
except OSError as e:
    print(errno.errorcode[e.errno])
if len(sys.argv) > 5:
    print(open(sys.argv[5] + "/ro.txt").read().strip())
    try:
        open(sys.argv[5] + "/new", "w")
        print("wrote into the mount")
    except OSError as e:
        print(errno.errorcode[e.errno])
    print(next(l.split()[5].split(",")[0] for l in open("/proc/self/mountinfo") if l.split()[4] == sys.argv[5]))
"""


def probe_argv(mount_target=None):
    return [*python_in_sandbox(PROBE)[1:], *(LIMIT_ROWS[n] for n in LIMIT_ORDER),
            *([mount_target] if mount_target else [])]


def limits_seen(line):
    """{name: (soft, hard)} from the probe's first line ("unlimited" stays a string)."""
    rows = json.loads(line)
    return {n: tuple(int(v) if v.isdigit() else v for v in row) for n, row in zip(LIMIT_ORDER, rows)}


@pytest.fixture(scope="module")
def host_dir():
    """A host directory the policy binds: world-readable, one file."""
    d = tempfile.mkdtemp(prefix="warren-policy-mount-")
    os.chmod(d, 0o755)
    with open(os.path.join(d, "ro.txt"), "w") as f:
        f.write("from the host\n")
    os.chmod(os.path.join(d, "ro.txt"), 0o644)
    yield d
    shutil.rmtree(d)


@pytest.fixture(scope="module")
def policy_dir(host_dir, tmp_path_factory):
    """The repository's policies plus "applied": written rlimits and a mount."""
    d = tmp_path_factory.mktemp("policies")
    for name in os.listdir(os.path.join(REPO, "policy")):
        shutil.copy(os.path.join(REPO, "policy", name), d)
    (d / "applied.json").write_text(json.dumps({
        "version": 1, "name": "applied", "rlimits": WRITTEN_RLIMITS,
        "mounts": [{"source": host_dir, "target": "/data"}]}))
    return d


def check_probe(stdout, rlimits, mounted):
    """The limits the policy sets (those in rlimits; a written object leaves
    the others inherited, warren-policy(5)), what a 2 MiB write met, and the
    mount: readable, EROFS on write, mounted ro."""
    lines = stdout.splitlines()
    seen = limits_seen(lines[0])
    assert {n: seen[n] for n in rlimits} == rlimits, seen
    # fsize 1G lets 2 MiB through; fsize 1M stops the write with EFBIG.
    assert lines[1] == ("EFBIG" if rlimits["fsize"][0] < 2 * MiB else "wrote 2M"), lines
    if mounted:
        assert lines[2:] == ["from the host", "EROFS", "ro"], lines


WRITTEN_LIMITS = {"core": (0, 0), "nofile": (64, 64), "fsize": (MiB, MiB)}


# --- warren run --------------------------------------------------------------------------------


def test_default_rlimits_in_warren_run(warren):
    r = run(warren, "--", *probe_argv())
    assert r.returncode == 0, r.stderr
    check_probe(r.stdout, DEFAULT_RLIMITS, mounted=False)


def test_written_rlimits_and_mounts_in_warren_run(warren, policy_dir, host_dir):
    r = run(warren, "--policy", str(policy_dir / "applied.json"), "--", *probe_argv("/data"))
    assert r.returncode == 0, r.stderr
    check_probe(r.stdout, WRITTEN_LIMITS, mounted=True)
    assert sorted(os.listdir(host_dir)) == ["ro.txt"], "the sandbox wrote into the host directory"


# --- warrend sessions, every backend ------------------------------------------------------------


# Overrides daemon_fixture's `daemon`: the same daemon per backend, on the policies above.
@pytest.fixture(scope="module", params=BACKENDS)
def daemon(warrend, policy_dir, tmp_path_factory, nothing_left_behind, request):
    why = backend_unavailable(request.param)
    if why:
        pytest.skip(f"backend {request.param}: {why}")
    d = Daemon(warrend, str(tmp_path_factory.mktemp(f"warrend-{request.param}")),
               ["--policy-dir", str(policy_dir)], backend=request.param).start()
    yield d
    stop_and_check(d)


def test_default_rlimits_in_a_session(daemon):
    s = daemon.create()["id"]
    r = daemon.exec(s, cmd=probe_argv())
    assert r["exit_code"] == 0, r
    check_probe(r["stdout"], DEFAULT_RLIMITS, mounted=False)
    daemon.remove(s)


def test_written_rlimits_and_mounts_in_a_session(daemon, host_dir):
    s = daemon.create(policy="applied")["id"]
    r = daemon.exec(s, cmd=probe_argv("/data"))
    assert r["exit_code"] == 0, r
    check_probe(r["stdout"], WRITTEN_LIMITS, mounted=True)
    assert sorted(os.listdir(host_dir)) == ["ro.txt"], "the sandbox wrote into the host directory"
    daemon.remove(s)
