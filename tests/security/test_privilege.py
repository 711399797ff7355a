"""Privilege: every way back to root, to capabilities or to the kernel's
dangerous interfaces, from inside a sandbox (warren run and a daemon
session). Each attempt must be refused; the host is checked after each."""

import base64
import json
import threading
import time

import pytest

from battery import DaemonBackend, Outcome, RunBackend, host_check


def test_setuid_setgid_to_root(sandbox):
    sandbox.attack("setuid0").assert_blocked()


def test_regain_capabilities(sandbox):
    sandbox.attack("caps").assert_blocked()


def test_write_uid_map(sandbox):
    sandbox.attack("uid_map").assert_blocked()


def test_nested_unshare(sandbox):
    sandbox.attack("unshare").assert_blocked()


def test_clone_and_clone3_with_namespace_flags(sandbox):
    sandbox.attack("clone_ns").assert_blocked()


def test_setns(sandbox):
    sandbox.attack("setns").assert_blocked()


def test_mount_umount_pivot_root_chroot(sandbox):
    sandbox.attack("mount").assert_blocked()


def test_ptrace_and_process_vm_of_init_and_own_child(sandbox):
    sandbox.attack("ptrace").assert_blocked()


def test_ptrace_a_process_of_another_exec(daemon, attack_path):
    """Exec A sleeps; exec B in the same session attaches to it by pid."""
    from battery import DaemonBackend
    be = DaemonBackend(daemon, attack_path)
    sid = be.session()
    try:
        sleeper = threading.Thread(target=daemon.exec, args=(sid, {"shell": "exec sleep 31.5", "timeout": "20s"}))
        sleeper.start()
        pid = ""
        for _ in range(100):
            r = daemon.exec(sid, {"shell": "pgrep -f '[s]leep 31.5' || true"})  # [s]: not this sh
            pid = r["stdout"].split()[0] if r["stdout"].split() else ""
            if pid:
                break
            time.sleep(0.05)
        assert pid, "the other exec's sleep never showed up"
        out = be.run_in(sid, "ptrace", pid).assert_blocked()
        host_check(f"ptrace(PTRACE_ATTACH, {pid})" in out.stdout, "the other exec's pid was not tried")
        alive = daemon.exec(sid, {"shell": f"kill -0 {pid} && grep State /proc/{pid}/status"})
        host_check("sleeping" in alive["stdout"], f"the other exec's process was disturbed: {alive}")
    finally:
        daemon.delete(sid)
        sleeper.join(timeout=30)


def test_proc_1_mem_and_friends(sandbox):
    sandbox.attack("proc_mem").assert_blocked()


def test_kernel_modules(sandbox):
    sandbox.attack("kmod").assert_blocked()


def test_kexec(sandbox):
    sandbox.attack("kexec").assert_blocked()


def test_bpf(sandbox):
    sandbox.attack("bpf").assert_blocked()


def test_perf_event_open(sandbox):
    sandbox.attack("perf").assert_blocked()


def test_keyctl(sandbox):
    sandbox.attack("keyctl").assert_blocked()


def test_userfaultfd(sandbox):
    sandbox.attack("userfaultfd").assert_blocked()


def test_io_uring(sandbox):
    sandbox.attack("io_uring").assert_blocked()


def test_personality(sandbox):
    sandbox.attack("personality").assert_blocked()


def test_32bit_syscall_via_int80(sandbox):
    sandbox.attack("int80").assert_blocked()


def test_tiocsti_injection(sandbox):
    sandbox.attack("tiocsti").assert_blocked()


def test_terminal_ways_out(sandbox):
    sandbox.attack("pty").assert_blocked()


def test_terminal_of_warren_run_t(warren, attack_dir):
    """`warren run -t`: fds 0-2 are a pty of the sandbox's own devpts and
    the command's controlling terminal. Pushing input into it (TIOCSTI)
    stays refused, as do taking another session's terminal over and
    redirecting the console into it."""
    run_t = RunBackend(warren, attack_dir)
    out = run_t.attack("tiocsti", options=["-t"]).assert_blocked()
    assert "is not a terminal" not in out.stdout, out.stdout
    assert "blocked: ioctl(fd 0, TIOCSTI)" in out.stdout, out.stdout
    run_t.attack("pty", options=["-t"]).assert_blocked()


def test_terminal_of_a_warrend_process(daemon, attack_path):
    """A process of a session with a terminal (POST .../processes with
    "pty"): its fds 0-2 are a pty of the sandbox's own devpts, opened by its
    init. Pushing input into it (TIOCSTI) stays refused, as do the other
    terminal ways out, whatever its keys come from."""
    sb = DaemonBackend(daemon, attack_path)
    for name in ("tiocsti", "pty"):
        sid = sb.session()
        try:
            r = daemon.request("POST", f"/v1/sessions/{sid}/processes",
                               {"cmd": ["sh", "-c", 'chmod 755 /workspace/attack && exec /workspace/attack "$@"', "sh",
                                        name], "pty": {}})
            assert r.status == 201, (r.status, r.body)
            pid = r.json()["pid"]
            events = daemon.request("GET", f"/v1/sessions/{sid}/processes/{pid}/output", timeout=120)
            text, end = "", {}
            for line in events.body.decode().splitlines():
                if line.startswith("data: "):
                    doc = json.loads(line[6:])
                    if "data_base64" in doc:
                        text += base64.b64decode(doc["data_base64"]).decode(errors="replace")
                    elif "exit_code" in doc:
                        end = doc
                    else:
                        text += doc.get("data", "")
            out = Outcome("daemon-pty", name, end.get("exit_code"), end.get("signal"), text, "", {"result": end})
            out.assert_blocked()
            if name == "tiocsti":
                assert "blocked: ioctl(fd 0, TIOCSTI)" in text, text
        finally:
            daemon.delete(sid)


def test_reboot(sandbox):
    sandbox.attack("reboot").assert_blocked()
    with open("/proc/uptime") as f:
        host_check(float(f.read().split()[0]) > 5, "the host rebooted")
