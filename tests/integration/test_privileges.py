"""Who the command runs as and what it may do: the sandbox user, no
capabilities, no_new_privs, the seccomp filter, per-sandbox host uid ranges,
hostname, environment and working directory."""

import json
import os
import platform
import select
import subprocess
import time

import pytest

from warrentest import (SANDBOX_UID, UID_RANGE_BASE, UID_RANGE_SIZE, UID_RANGE_SLOTS, all_processes,
                        descends_from, python_in_sandbox, run)


def test_command_runs_as_sandbox_user(warren):
    r = run(warren, "--", "id")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "uid=1000(sandbox) gid=1000(sandbox) groups=1000(sandbox)"


def status_fields(text):
    return {k: v.strip() for k, v in (l.split(":", 1) for l in text.splitlines() if ":" in l)}


def test_no_capabilities_no_new_privs_seccomp_filter(warren):
    r = run(warren, "--", "cat", "/proc/self/status")
    assert r.returncode == 0, r.stderr
    st = status_fields(r.stdout)
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(st[cap], 16) == 0, f"{cap} is {st[cap]}"
    assert st["NoNewPrivs"] == "1"
    assert st["Seccomp"] == "2", "no seccomp filter (mode 2) on the command"


def test_uid_zero_inside_is_an_unprivileged_host_uid(warren):
    r = run(warren, "--", "cat", "/proc/self/uid_map", "/proc/self/gid_map")
    assert r.returncode == 0, r.stderr
    for line in r.stdout.splitlines():
        inside, outside, count = (int(x) for x in line.split())
        assert inside == 0 and count == UID_RANGE_SIZE, line
        assert (outside - UID_RANGE_BASE) % UID_RANGE_SIZE == 0, line
        assert UID_RANGE_BASE <= outside < UID_RANGE_BASE + UID_RANGE_SLOTS * UID_RANGE_SIZE, line
    assert r.sandbox.uid_first == int(r.stdout.split()[1])


# Syscall numbers for the architectures CI runs on.
SYSCALLS = {
    "x86_64": dict(mount=165, umount2=166, unshare=272, setns=308, ptrace=101, keyctl=250, bpf=321,
                   chroot=161, clone=56, clone3=435, ioctl=16),
    "aarch64": dict(mount=40, umount2=39, unshare=97, setns=268, ptrace=117, keyctl=219, bpf=280,
                    chroot=51, clone=220, clone3=435, ioctl=29),
}

# Each call would succeed, or fail with another errno, without the filter:
# unshare(CLONE_NEWUSER) and ptrace(PTRACE_TRACEME) are allowed to anyone,
# keyctl(GET_KEYRING_ID) too, bpf with a bad command is EINVAL.
SECCOMP_PROBE = r"""
import ctypes, json, os, sys
nr = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def call(name, *args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr[name]), *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
    if r == 0 and name == "clone":
        os._exit(0)   # the child, had the clone worked
    return os.strerror(ctypes.get_errno()) if r == -1 else "succeeded"
CLONE_NEWUSER, CLONE_NEWNS, SIGCHLD = 0x10000000, 0x20000, 17
ch = ctypes.c_char(b"x")
out = {
    "mount": call("mount", b"none", b"/tmp", b"tmpfs", 0, None),
    "umount2": call("umount2", b"/tmp", 0),
    "unshare": call("unshare", CLONE_NEWUSER),
    "setns": call("setns", os.open("/proc/self/ns/net", os.O_RDONLY), 0),
    "ptrace": call("ptrace", 0, 0, 0, 0),
    "keyctl": call("keyctl", 0, -3, 0),
    "bpf": call("bpf", 9999, None, 0),
    "chroot": call("chroot", b"/tmp"),
    "clone_newuser": call("clone", CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0),
    "clone_newns": call("clone", CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0),
    "clone3": call("clone3", None, 0),
    "tiocsti": call("ioctl", os.open("/dev/null", os.O_RDONLY), 0x5412, ctypes.byref(ch)),
}
print(json.dumps(out))
"""


def test_dangerous_syscalls_fail_with_eperm(warren):
    nr = SYSCALLS.get(platform.machine())
    if nr is None:
        pytest.skip(f"no syscall table for {platform.machine()} in this test")
    r = run(warren, "--", "python3", "-c", SECCOMP_PROBE, json.dumps(nr))
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    eperm = os.strerror(1)
    for name in ("mount", "umount2", "unshare", "setns", "ptrace", "keyctl", "bpf", "chroot",
                 "clone_newuser", "clone_newns", "tiocsti"):
        assert got[name] == eperm, f"{name}: {got[name]} (expected EPERM from the seccomp filter)"
    # clone3's flags sit behind a pointer: it must say ENOSYS so libc falls back to clone.
    assert got["clone3"] == os.strerror(38), f"clone3: {got['clone3']}"


def test_ordinary_syscalls_still_work(warren):
    r = run(warren, *python_in_sandbox(
        "import os, subprocess, threading, socket\n"
        "t = threading.Thread(target=lambda: None); t.start(); t.join()\n"
        "print(subprocess.run(['echo', 'child'], capture_output=True, text=True).stdout.strip())\n"
        "a, b = socket.socketpair(); a.send(b'ok'); print(b.recv(2).decode())\n"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["child", "ok"]


def sandbox_uid_on_host(proc_pid):
    """Host uid of the first sandbox process under a host `warren` process."""
    procs = all_processes()
    for p in procs.values():
        if p.pid != proc_pid and p.uid != 0 and descends_from(procs, p.pid, proc_pid):
            return p.uid
    return None


def test_concurrent_sandboxes_get_distinct_host_uid_ranges(warren):
    # Each sandbox prints its uid map, then waits on stdin so that all are alive
    # together while the host looks at their processes.
    n = 3
    procs = [subprocess.Popen([warren, "run", "--", "sh", "-c", "cat /proc/self/uid_map; read x; true"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(n)]
    try:
        maps = []
        for p in procs:
            ready, _, _ = select.select([p.stdout], [], [], 10)
            assert ready, "sandbox did not start within 10s"
            maps.append([int(x) for x in p.stdout.readline().split()])
        host_uids = []
        for p in procs:
            deadline = time.monotonic() + 5
            uid = None
            while uid is None and time.monotonic() < deadline:
                uid = sandbox_uid_on_host(p.pid)
                time.sleep(0.01)
            host_uids.append(uid)
    finally:
        for p in procs:
            p.stdin.close()
        rcs = [p.wait(timeout=10) for p in procs]
        for p in procs:
            p.stdout.close()
            p.stderr.close()
    assert rcs == [0] * n
    bases = [m[1] for m in maps]
    assert len(set(bases)) == n, f"two live sandboxes share a host uid range: {bases}"
    for base, m in zip(bases, maps):
        assert m[0] == 0 and m[2] == UID_RANGE_SIZE
        assert base >= UID_RANGE_BASE
    # Seen from the host, each sandbox's processes run as its own base + 1000.
    assert sorted(host_uids) == sorted(b + SANDBOX_UID for b in bases), (host_uids, bases)


def test_default_hostname_is_sandbox(warren):
    r = run(warren, "--", "hostname")
    assert (r.returncode, r.stdout.strip()) == (0, "sandbox")


def test_hostname_flag_sets_hostname_without_touching_the_host(warren):
    host_before = os.uname().nodename
    r = run(warren, "--hostname", "agent-7", "--", "cat", "/proc/sys/kernel/hostname")
    assert (r.returncode, r.stdout.strip()) == (0, "agent-7")
    assert os.uname().nodename == host_before


def test_environment_is_clean_and_env_flag_adds(warren):
    env = dict(os.environ, WARREN_TEST_HOST_SECRET="leak")
    r = run(warren, "--env", "GREETING=hello world", "--env", "HOME=/tmp", "--", "env", env=env)
    assert r.returncode == 0, r.stderr
    got = dict(l.split("=", 1) for l in r.stdout.splitlines())
    assert "WARREN_TEST_HOST_SECRET" not in got, "host environment leaked into the sandbox"
    assert got["GREETING"] == "hello world"
    assert got["HOME"] == "/tmp", "--env should override the policy's env"
    assert got["USER"] == "sandbox" and "/usr/bin" in got["PATH"].split(":")


def test_working_directory_defaults_to_workspace_and_cwd_flag_changes_it(warren):
    assert run(warren, "--", "pwd").stdout.strip() == "/workspace"
    r = run(warren, "--cwd", "/tmp", "--", "pwd")
    assert (r.returncode, r.stdout.strip()) == (0, "/tmp")
