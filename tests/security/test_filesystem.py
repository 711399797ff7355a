"""Filesystem: writing to the image, device nodes, reaching the host's root
through /proc or an inherited fd, overwriting the runtime's binary
(CVE-2019-5736), bind mounts, hard links out of the sandbox, privileged
files planted in a shared workspace, and another sandbox's workspace."""

import os
import secrets
import stat
import subprocess
import tempfile
import threading

import pytest

from battery import RunBackend, host_check
from daemon_fixture import wait_for


@pytest.fixture
def host_workspace():
    """A fresh root-owned host directory for `warren run --workspace`."""
    d = tempfile.mkdtemp(prefix="warren-sec-ws-")
    os.chmod(d, 0o755)
    yield d
    subprocess.run(["rm", "-rf", "--one-file-system", d], check=False)


def test_write_usr_etc_and_the_image(sandbox):
    sandbox.attack("write_image").assert_blocked()
    for p in ("/usr/bin/warren-sec-probe", "/etc/warren-sec-probe", "/warren-sec-probe", "/etc/warren-sec-dir",
              "/etc/warren-sec-link", "/usr/lib/warren-sec-probe", "/etc/passwd.warren-sec"):
        host_check(not os.path.lexists(p), f"{p} exists on the host")


def test_create_device_nodes(sandbox):
    sandbox.attack("mknod").assert_blocked()


def test_reach_host_root_through_proc(sandbox, canary):
    _, files = canary
    sandbox.attack("host_root", *files).assert_blocked()


def test_only_stdio_fds_open_at_start(sandbox):
    out = sandbox.attack("fds").assert_blocked()
    host_check("fd 0 ->" in out.stdout and "fd 2 ->" in out.stdout, f"stdio not listed: {out.stdout}")


def test_overwrite_runtime_binary_through_proc_exe(sandbox):
    """CVE-2019-5736: /proc/1/exe is the runtime (a fork of warren or
    warrend); /proc/<pid>/exe of a program the runtime started is the
    image's. The warren binaries' hashes are checked after every test."""
    sandbox.attack("exe_overwrite").assert_blocked()


def test_bind_mount_tricks(sandbox):
    sandbox.attack("bind_mount").assert_blocked()


def test_hard_links_to_files_outside(sandbox, canary, host_workspace):
    _, files = canary
    if sandbox.name == "run":
        out = sandbox.attack("hardlink", "/workspace", *files, workspace=host_workspace)
        inodes = {(os.stat(p).st_dev, os.stat(p).st_ino) for p in ["/etc/passwd", "/usr/bin/env", *files]}
        for name in os.listdir(host_workspace):
            st = os.lstat(os.path.join(host_workspace, name))
            host_check((st.st_dev, st.st_ino) not in inodes, f"{name} in the workspace is a host file")
    else:
        out = sandbox.attack("hardlink", "/workspace", *files)
    out.assert_blocked()


def test_setuid_files_planted_in_a_host_workspace(warren, attack_dir, host_workspace):
    """warren run maps the sandbox user to the caller in a --workspace
    directory: with root as the caller, a set-user-ID file made there would
    be a root program on the host, runnable by any host user. (Daemon
    workspaces are private tmpfs mounts, never a host directory.)"""
    out = RunBackend(warren, attack_dir).attack("suid_plant", "/workspace", workspace=host_workspace)
    privileged = []
    for name in os.listdir(host_workspace):
        st = os.lstat(os.path.join(host_workspace, name))
        if st.st_mode & (stat.S_ISUID | stat.S_ISGID):
            privileged.append(f"{host_workspace}/{name} mode {st.st_mode & 0o7777:04o} uid {st.st_uid}")
    out.assert_blocked()
    host_check(not privileged, f"set-ID files on the host: {privileged}")


def test_read_another_sandboxs_workspace(sandbox, host_workspace):
    """Another sandbox holds a secret in its workspace. The holder is shown
    to run and to read the secret itself (a file it writes) before any
    attack, and to live through them: a holder that never started would
    make every attempt pass for nothing."""
    name, content = f"secret-{secrets.token_hex(4)}", secrets.token_hex(16)
    if sandbox.name == "run":
        with open(os.path.join(host_workspace, name), "w") as f:
            f.write(content)
        ready = os.path.join(host_workspace, "ready")
        log = tempfile.TemporaryFile()
        other = subprocess.Popen([sandbox.warren, "run", "--workspace", host_workspace, "--", "sh", "-c",
                                  f"cat /workspace/{name} > /workspace/ready && exec sleep 60"],
                                 stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: other.poll() is not None or read_text(ready) == content, 30)
            assert other.poll() is None and read_text(ready) == content, \
                f"the holder sandbox is not running with the secret (status {other.poll()}): {logged(log)}"
            sandbox.attack("find_secret", name, content, host_workspace, "/tmp", "/var/tmp").assert_blocked()
            assert other.poll() is None, f"the holder sandbox ended during the attack: {logged(log)}"
        finally:
            other.terminate()
            other.wait(timeout=20)
            log.close()
        return
    d = sandbox.daemon
    sid = d.create()
    held = {}

    def hold():
        try:
            held["result"] = d.exec(sid, {"shell": f"cat {name} > ready && while [ ! -e release ]; do sleep 0.1; done",
                                          "timeout": "60s"})
        except BaseException as e:  # raised again below, not lost with the thread
            held["error"] = e

    holder = threading.Thread(target=hold)
    try:
        assert d.put(sid, name, content).status == 201
        holder.start()
        wait_for(lambda: not holder.is_alive() or d.get(sid, "ready").body == content.encode(), 30)
        assert holder.is_alive(), f"the holder exec ended before the attacks: {held}"
        assert d.get(sid, "ready").body == content.encode(), "the holder never read its own secret"
        for who in ("alice", "bob"):  # the same owner's other session, and another owner's
            sandbox.attack("find_secret", name, content, session={"who": who}).assert_blocked()
        assert holder.is_alive(), f"the holder exec ended during the attacks: {held}"
        assert d.put(sid, "release", "").status == 201
        holder.join(timeout=30)
        if "error" in held:
            raise held["error"]
        assert held["result"]["exit_code"] == 0, f"the holder exec: {held['result']}"
    finally:
        d.delete(sid)
        holder.join(timeout=30)


def read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def logged(f):
    f.seek(0)
    return f.read().decode(errors="replace")[-2000:]
