"""What warrend.conf(5) and warrend(8) promise of the daemon's setup, checked
on a real daemon: the unix socket's mode and group, an IPv6 listener, the
413s of max_body and max_file_size, SIGHUP reloading the policies and the
tokens (and keeping the old tokens when the new file is refused), the
systemd notifications READY=1 and STOPPING=1, and socket activation.

The requests go through the fixture's HTTP session (and its headers), so
they keep working when tokens become mandatory."""

import grp
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import time

import pytest
import requests

from daemon_fixture import Daemon, free_port, start_daemon, stop_and_check, wait_for, warrend  # noqa: F401
from warrentest import REPO

# --- the unix socket and the listeners -------------------------------------------------------------


def test_socket_mode_and_group(start_daemon):
    group = grp.getgrnam("daemon")  # a group every Debian system has, not root's
    d = start_daemon(config_extra="socket_mode = 0640\nsocket_group = daemon\n")
    st = os.stat(d.sock)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o640, oct(st.st_mode)
    assert st.st_gid == group.gr_gid, (st.st_gid, group)
    status, _ = d.unix_request("GET", "/v1/health")
    assert status == 200


def test_ipv6_listener(start_daemon):
    port = free_port()
    d = start_daemon("--listen", f"[::1]:{port}")
    r = d.http.get(f"http://[::1]:{port}/v1/health", timeout=30)
    assert r.status_code == 200 and r.json()["status"] == "ok", r.text
    with socket.create_connection(("::1", port), timeout=10) as s:
        assert s.family == socket.AF_INET6


# --- body and file size limits ---------------------------------------------------------------------


@pytest.mark.parametrize("key", ["max_body", "max_file_size"])
def test_uploads_above_the_size_limits_are_413(start_daemon, key):
    """warrend.conf(5): max_body bounds a file upload's body (PUT and
    /upload_file), max_file_size a file written into a workspace."""
    d = start_daemon(config_extra=f"{key} = 4K\n")
    sid = d.create()["id"]
    url = f"{d.url}/v1/sessions/{sid}/files/f.bin"
    assert d.http.put(url, data=b"x" * 4096, timeout=60).status_code == 201
    refused = [d.http.put(url, data=b"y" * 4097, timeout=60),
               d.http.post(f"{d.url}/upload_file", data={"session_id": sid}, files={"file": ("u.bin", b"y" * 8192)},
                           timeout=60)]
    for r in refused:
        assert (r.status_code, r.json()["error"]["code"]) == (413, "payload_too_large"), r.text
    # Neither refused upload wrote anything; the first file is intact.
    assert d.exec(sid, shell="ls /workspace; head -c 1 f.bin; wc -c < f.bin")["stdout"] == "f.bin\nx4096\n"
    d.remove(sid)


# --- SIGHUP ----------------------------------------------------------------------------------------


def add_token(warrend_bin, tokens, name):
    out = subprocess.run([warrend_bin, "token", "add", name, "--tokens", str(tokens)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out
    return {"Authorization": f"Bearer {out.stdout.strip()}"}


def test_sighup_reloads_the_policies(start_daemon, tmp_path):
    """New sessions get the re-read policy; a session that exists keeps its
    sandbox and the limits it was made with (warrend(8))."""
    policies = tmp_path / "policy"
    shutil.copytree(os.path.join(REPO, "policy"), policies)
    d = start_daemon("--policy-dir", str(policies))
    old = d.create()
    assert old["limits"]["memory"] == "512M", old
    doc = json.loads((policies / "default.json").read_text())
    doc["limits"]["memory"] = "256M"
    (policies / "default.json").write_text(json.dumps(doc))
    before = d.create()  # not reloaded yet: the file is read at SIGHUP
    assert before["limits"]["memory"] == "512M", before
    d.remove(before["id"])
    d.send(signal.SIGHUP)

    def new_limit():
        s = d.create()
        d.remove(s["id"])
        return s["limits"]["memory"] == "256M"

    assert wait_for(new_limit, 30, interval=0.2), d.log()
    s = d.create()
    assert d.cgroup_value(s["id"], "memory") == 256 << 20
    assert d.get(f"/v1/sessions/{old['id']}").json()["limits"]["memory"] == "512M"
    assert d.cgroup_value(old["id"], "memory") == 512 << 20
    assert d.exec(old["id"], cmd=["echo", "kept"])["stdout"] == "kept\n"
    d.remove(s["id"])
    d.remove(old["id"])


def test_sighup_reloads_tokens_and_keeps_them_when_the_file_is_refused(warrend, start_daemon, tmp_path):
    tokens = tmp_path / "tokens"
    alice = add_token(warrend, tokens, "alice")
    d = start_daemon("--tokens", str(tokens))
    health = f"{d.url}/v1/health"
    assert requests.get(health, headers=alice, timeout=30).status_code == 200
    bob = add_token(warrend, tokens, "bob")
    assert requests.get(health, headers=bob, timeout=30).status_code == 401  # not loaded before SIGHUP
    d.send(signal.SIGHUP)
    assert wait_for(lambda: requests.get(health, headers=bob, timeout=30).status_code == 200, 10), d.log()

    # A tokens file others may read is refused (warrend(8)): the previous tokens stay.
    carol = add_token(warrend, tokens, "carol")
    tokens.chmod(0o644)
    reloads = d.log().count("tokens not reloaded")
    d.send(signal.SIGHUP)
    assert wait_for(lambda: d.log().count("tokens not reloaded, keeping the previous ones") == reloads + 1, 10), \
        d.log()
    for who in (alice, bob):
        assert requests.get(health, headers=who, timeout=30).status_code == 200
    assert requests.get(health, headers=carol, timeout=30).status_code == 401
    assert d.running


# --- systemd ---------------------------------------------------------------------------------------


def test_notify_ready_and_stopping(start_daemon, tmp_path, monkeypatch):
    """warrend(8), SYSTEMD: READY=1 once its listeners are bound and its
    pools set up, STOPPING=1 when it starts draining."""
    path = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(path)
    listener.settimeout(30)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    try:
        d = start_daemon()
        assert listener.recv(4096).decode().split("\n") == ["READY=1"]
        assert d.get("/v1/health").status_code == 200
        d.send(signal.SIGTERM)
        assert listener.recv(4096).decode().split("\n") == ["STOPPING=1"]
        rc, _ = d.stop()
        assert rc == 0, d.log()
    finally:
        listener.close()


class ActivatedDaemon(Daemon):
    """warrend started by systemd-socket-activate listening on self.port;
    its own listen entries name another port, and its unix socket, which
    must then stay unbound."""

    def argv(self):
        argv = super().argv()
        self.ignored_port = free_port()
        argv[argv.index(f"127.0.0.1:{self.port}")] = f"127.0.0.1:{self.ignored_port}"
        return ["systemd-socket-activate", "-l", f"127.0.0.1:{self.port}", *argv]

    def start(self, pool_ready=True):
        # The first connection makes systemd-socket-activate exec warrend; a
        # request meanwhile waits in the socket's backlog, so a slow start is
        # a slow answer here, never a refused connection.
        self.log_file = open(self.log_path, "ab")
        self.log_offset = self.log_file.tell()
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=self.log_file,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if self.http.get(self.url + "/v1/health", timeout=30).status_code == 200:
                    return self
            except requests.RequestException:
                time.sleep(0.05)
        self.proc.kill()
        self.proc.wait()
        raise AssertionError(f"the activated warrend did not answer: {self.log()}")


def test_socket_activation(warrend, tmp_path_factory, nothing_left_behind):
    if not shutil.which("systemd-socket-activate"):
        pytest.skip("no systemd-socket-activate (Debian package systemd)")
    d = ActivatedDaemon(warrend, str(tmp_path_factory.mktemp("warrend-activated")))
    try:
        d.start()
        assert "using 1 socket(s) from systemd; listen entries ignored" in d.log(), d.log()
        sid = d.create()["id"]
        assert d.exec(sid, cmd=["echo", "activated"])["stdout"] == "activated\n"
        d.remove(sid)
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", d.ignored_port), timeout=5).close()
        assert not os.path.exists(d.sock), "a listen entry was bound despite socket activation"
    finally:
        stop_and_check(d)
