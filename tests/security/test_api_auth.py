"""Attacks on warrend's HTTP API from the host (audit items 2, 3, 8, 12):
a local user reaching root's sessions over loopback TCP, web pages driving a
tokenless daemon (cross-site requests, DNS rebinding), unauthenticated
request bodies filling the daemon's memory, and tokens files others may
read or change.

Each test starts its own warrend (daemon_fixture's start_daemon: a unix
socket and a loopback TCP port, a tokens file with the token "fixture"),
as root; the local user is `nobody` through runuser(1).
"""

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest
import requests

from battery import STATS, host_check
from daemon_fixture import assert_error, start_daemon, wait_for, warrend  # noqa: F401 (fixtures)


def attempt(ok, message):
    STATS["attempts"] += 1
    assert ok, message
    STATS["blocked"] += 1


def curl(*args, user=None):
    """(HTTP status, body) of one curl run, as `user` when given."""
    argv = ["curl", "-s", "--max-time", "60", "-w", "\n%{http_code}", *args]
    if user:
        argv = ["runuser", "-u", user, "--", *argv]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=90)
    body, _, code = r.stdout.rpartition("\n")
    assert code.isdigit(), r
    return int(code), body


def unix_json(d, method, path, body=None, headers=None):
    """A tokenless request through the daemon's unix socket: (status, JSON)."""
    data = json.dumps(body).encode() if body is not None else None
    status, raw = d.unix_request(method, path, data, {"Content-Type": "application/json", **(headers or {})})
    return status, json.loads(raw or b"null")


JSON = ("-H", "Content-Type: application/json")


@pytest.fixture(scope="module", autouse=True)
def tools():
    for tool in ("runuser", "curl"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed")


# --- item 2: local users and root's sessions ---------------------------------------------------


def test_local_user_cannot_use_roots_session_over_loopback(start_daemon):
    """The audit: root creates a session through the unix socket; `nobody`
    runs `curl -X POST http://127.0.0.1:PORT/v1/sessions/ID/exec`. Every TCP
    listener, loopback included, wants a token now."""
    d = start_daemon()
    status, s = unix_json(d, "POST", "/v1/sessions", {})
    assert status == 201, s
    sid, url = s["id"], d.url
    try:
        for method, path, data in (
                ("POST", f"/v1/sessions/{sid}/exec", '{"shell": "echo pwned > /workspace/pwned"}'),
                ("POST", "/v1/run", '{"shell": "id"}'),
                ("PUT", f"/v1/sessions/{sid}/files/pwned", "x"),
                ("GET", f"/v1/sessions/{sid}/files/", None),
                ("GET", "/v1/sessions", None),
                ("DELETE", f"/v1/sessions/{sid}", None)):
            code, body = curl("-X", method, url + path, *(JSON + ("--data-binary", data) if data else ()),
                              user="nobody")
            attempt(code == 401, f"nobody {method} {path} over loopback: {code} {body[:200]}")
            assert json.loads(body)["error"]["code"] == "unauthorized", body
        status, r = unix_json(d, "POST", f"/v1/sessions/{sid}/exec", {"shell": "ls -A /workspace"})
        host_check(status == 200 and r["stdout"] == "", f"something ran in root's session: {r}")
    finally:
        assert unix_json(d, "DELETE", f"/v1/sessions/{sid}")[0] == 200


def test_tokenless_loopback_opt_out(start_daemon):
    """tokenless_loopback = true serves loopback TCP without a token again,
    with a warning at start, as the owner "loopback": what root made through
    the socket (owner "local") stays out of reach."""
    d = start_daemon(config_extra="tokenless_loopback = true\n")
    assert re.search(rf"warrend: WARNING: tokenless_loopback: 127\.0\.0\.1 port {d.port} serves requests "
                     r"without a token; every local user shares the owner \"loopback\"", d.log()), d.log()
    status, s = unix_json(d, "POST", "/v1/sessions", {})
    assert status == 201, s
    root_sid = s["id"]
    code, body = curl("-X", "POST", d.url + "/v1/sessions", *JSON, "-d", "{}", user="nobody")
    assert code == 201, body
    own_sid = json.loads(body)["id"]
    try:
        for method, path, data in (("POST", f"/v1/sessions/{root_sid}/exec", '{"shell": "id"}'),
                                   ("GET", f"/v1/sessions/{root_sid}", None),
                                   ("DELETE", f"/v1/sessions/{root_sid}", None)):
            code, body = curl("-X", method, d.url + path, *(JSON + ("-d", data) if data else ()), user="nobody")
            attempt(code == 404, f"nobody {method} {path} with tokenless_loopback: {code} {body[:200]}")
        code, body = curl(d.url + "/v1/sessions", user="nobody")
        assert code == 200 and [x["id"] for x in json.loads(body)["sessions"]] == [own_sid], body
        status, listed = unix_json(d, "GET", "/v1/sessions")
        assert [x["id"] for x in listed["sessions"]] == [root_sid], listed
    finally:
        assert curl("-X", "DELETE", f"{d.url}/v1/sessions/{own_sid}")[0] == 200
        assert unix_json(d, "DELETE", f"/v1/sessions/{root_sid}")[0] == 200


# --- item 3: web pages ---------------------------------------------------------------------------

RUN = '{"cmd": ["echo", "ran"]}'


def test_web_pages_cannot_drive_a_tokenless_daemon(start_daemon, tmp_path):
    """The audit's requests against a tokenless loopback listener: a foreign
    Origin (403), a Host that is not this listener (DNS rebinding, 421), a
    body that is not declared JSON (415), a multipart form to /upload_file."""
    d = start_daemon(config_extra="tokenless_loopback = true\nallowed_origins = http://127.0.0.1:3000\n"
                                  "allowed_hosts = warren.internal\n")
    run = d.url + "/v1/run"
    evil_host = f"Host: attacker.example:{d.port}"
    for headers, want in (
            (("-H", "Origin: http://attacker.example", "-H", evil_host, "-H", "Content-Type: text/plain"), 403),
            (("-H", "Origin: http://attacker.example", *JSON), 403),
            (("-H", "Origin: null", *JSON), 403),
            (("-H", evil_host, "-H", f"Origin: http://attacker.example:{d.port}", *JSON), 403),
            (("-H", evil_host, *JSON), 421),
            (("-H", f"Host: 127.0.0.1:{d.port + 1}", *JSON), 421),
            (("-H", "Host: 127.0.0.1", *JSON), 421),
            (("-H", "Content-Type: text/plain",), 415),
            (("-H", "Content-Type: application/x-www-form-urlencoded",), 415),
            ((), 415)):
        code, body = curl("-X", "POST", run, *headers, "--data-binary", RUN, user="nobody")
        attempt(code == want, f"POST /v1/run {headers}: {code} {body[:200]}")
        assert "ran" not in body

    # The multipart form of the compatibility route: the Origin, and the Host.
    code, body = curl("-X", "POST", d.url + "/v1/sessions", *JSON, "-d", "{}")
    assert code == 201, body
    sid = json.loads(body)["id"]
    upload = tmp_path / "x.txt"
    upload.write_text("from a web page\n")
    for headers, want in ((("-H", "Origin: http://attacker.example"), 403), (("-H", evil_host), 421)):
        code, body = curl(*headers, "-F", f"session_id={sid}", "-F", f"file=@{upload}", d.url + "/upload_file")
        attempt(code == want, f"multipart /upload_file {headers}: {code} {body[:200]}")
    code, body = curl(f"{d.url}/v1/sessions/{sid}/files/")
    host_check(code == 200 and json.loads(body)["entries"] == [], f"a web page wrote a file: {body}")

    # What is allowed: its own address or localhost with the port, configured
    # origins and names, no Origin at all, and any request with a token.
    for headers in ((), ("-H", f"Host: localhost:{d.port}"), ("-H", "Host: warren.internal"),
                    ("-H", "Host: WARREN.internal:8443"), ("-H", "Origin: http://127.0.0.1:3000")):
        code, body = curl("-X", "POST", run, *headers, *JSON, "--data-binary", RUN)
        assert code == 200 and json.loads(body)["stdout"] == "ran\n", (headers, code, body)
    code, body = curl("-X", "POST", run, "-H", "Content-Type: Application/JSON; charset=utf-8", "--data-binary", RUN)
    assert code == 200, body
    code, body = curl("-X", "POST", run, "-H", f"Authorization: {d.auth['Authorization']}", "-H",
                      "Origin: http://attacker.example", "-H", "Host: attacker.example", "--data-binary", RUN)
    assert code == 200, body
    # The unix socket: a browser cannot connect to it, only a foreign Origin matters.
    status, r = unix_json(d, "POST", "/v1/run", json.loads(RUN), {"Origin": "http://attacker.example"})
    attempt(status == 403, f"unix socket, foreign Origin: {status} {r}")
    status, r = unix_json(d, "POST", "/v1/run", json.loads(RUN), {"Host": "anything"})
    assert status == 200, r
    assert curl("-X", "DELETE", f"{d.url}/v1/sessions/{sid}")[0] == 200


# --- item 8: bodies before authentication ---------------------------------------------------------

UNAUTH_PUT = 63 << 20


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))


def deleted_file_bytes(pid):
    """Bytes in files the daemon holds open that are already unlinked (how
    h2o keeps large bodies: /tmp/h2o.b.XXXXXX)."""
    total = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").endswith("(deleted)"):
                total += os.stat(f"/proc/{pid}/fd/{fd}").st_size
        except OSError:
            pass
    return total


def test_unauthenticated_bodies_are_not_read(start_daemon, tmp_path):
    """The audit: eight unauthenticated 63 MiB PUTs at once made the daemon
    hold 237 MB before answering 401. Each still gets its 401; the daemon's
    peak RSS and its temporary files stay small. auth_local makes every
    listener want a token (also on builds where loopback did not)."""
    d = start_daemon(config_extra="auth_local = true\n")
    pid = d.proc.pid
    hwm_before = vm_hwm_kib(pid)
    body = b"\0" * UNAUTH_PUT
    statuses, peak_temp, done = [], [0], threading.Event()

    def watch():
        while not done.is_set():
            peak_temp[0] = max(peak_temp[0], deleted_file_bytes(pid))
            time.sleep(0.005)

    def put(i):
        try:
            r = requests.put(f"{d.url}/v1/sessions/{'a' * 32}/files/f{i}", data=body, timeout=120,
                             headers={"Authorization": "Bearer not-a-token"} if i % 2 else {})
            statuses.append(r.status_code)
        except requests.RequestException as e:
            statuses.append(repr(e))

    watcher = threading.Thread(target=watch)
    watcher.start()
    threads = [threading.Thread(target=put, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    watcher.join()
    growth = vm_hwm_kib(pid) - hwm_before
    attempt(statuses == [401] * 8, f"unauthenticated PUTs: {statuses}")
    attempt(growth < 16 << 10, f"eight unauthenticated 63 MiB PUTs raised the daemon's peak RSS by {growth} KiB")
    attempt(peak_temp[0] < 1 << 20, f"the daemon held {peak_temp[0]} bytes of temporary files")
    host_check(d.get("/v1/health").status_code == 200, "the daemon stopped answering")

    # Authenticated uploads of max_body (64M) still work, HTTP/1.1 and h2c.
    sid = d.create()["id"]
    data = tmp_path / "max"
    data.write_bytes(os.urandom(64 << 20))
    digest = hashlib.sha256(data.read_bytes()).hexdigest()
    auth = ("-H", f"Authorization: {d.auth['Authorization']}")
    for version, name in (("--http1.1", "h1"), ("--http2-prior-knowledge", "h2c")):
        code, out = curl(version, *auth, "-X", "PUT", "--data-binary", f"@{data}", f"{d.url}/v1/sessions/{sid}/files/{name}")
        assert code == 201 and json.loads(out)["size"] == 64 << 20, (version, code, out)
        r = d.exec(sid, cmd=["sha256sum", name])
        assert r["stdout"].split()[0] == digest, (version, r)
    d.remove(sid)


def test_slow_or_silent_clients_do_not_hold_the_gate(start_daemon):
    """Connections that never finish their first request head are closed
    after auth_timeout, the oldest first beyond auth_pending_max; meanwhile
    everyone else is served."""
    d = start_daemon(config_extra="auth_pending_max = 4\nauth_timeout = 1s\n")
    # A client that ends its side after the request (as nc does) still gets its 401.
    with socket.create_connection(("127.0.0.1", d.port), timeout=30) as c:
        c.sendall(b"POST /v1/run HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        c.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := c.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 401 Unauthorized\r\n") and b"Connection: close\r\n" in reply, reply
    idle = [socket.create_connection(("127.0.0.1", d.port), timeout=10) for _ in range(6)]
    idle[-1].sendall(b"POST /v1/run HTTP/1.1\r\nHost: x\r\n")  # a head trickling in, never finished
    try:
        assert d.get("/v1/health").status_code == 200  # not stalled by the silent ones
        # Past auth_pending_max the oldest went; the rest go at auth_timeout.
        for c in idle:
            c.settimeout(30)  # a ceiling: auth_timeout is 1 s
            attempt(c.recv(1) == b"", "a silent unauthenticated connection was kept open")
    finally:
        for c in idle:
            c.close()


# --- item 12: the tokens file ----------------------------------------------------------------------


def refused(warrend, tokens, tmp_path):
    sock = tmp_path / "w.sock"
    r = subprocess.run([warrend, "--config", "/dev/null", "--listen", f"unix:{sock}", "--tokens", str(tokens),
                        "--state-dir", str(tmp_path / "state")], capture_output=True, text=True, timeout=30)
    assert not sock.exists()
    return r


def test_tokens_file_others_may_read_or_own_is_refused(warrend, tmp_path):
    tokens = tmp_path / "tokens"
    fd = os.open(tokens, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, b"alice " + b"ab" * 32 + b"\n")
    os.close(fd)
    for mode in (0o640, 0o620, 0o604):
        os.chmod(tokens, mode)
        r = refused(warrend, tokens, tmp_path)
        attempt(r.returncode == 1 and r.stderr == (
            f"warrend: {tokens}: mode {mode:04o} lets group or others read or change the tokens; "
            f"run chmod 600 {tokens}\n"), f"tokens file mode {mode:04o}: {r}")
    os.chmod(tokens, 0o600)
    os.chown(tokens, 65534, 65534)
    r = refused(warrend, tokens, tmp_path)
    attempt(r.returncode == 1 and r.stderr == (
        f"warrend: {tokens}: owned by uid 65534; the tokens file must belong to root (or to the user warrend "
        f"runs as): run chown root {tokens}\n"), f"tokens file of nobody: {r}")
    os.chown(tokens, 0, 0)
    link = tmp_path / "tokens.link"
    link.symlink_to(tokens)
    r = refused(warrend, link, tmp_path)
    attempt(r.returncode == 1 and r.stderr == (
        f"warrend: {link} is a symbolic link: tokens_file must name the file itself\n"), f"symlinked tokens: {r}")
    # `warrend token add` refuses to add to such a file as well.
    os.chmod(tokens, 0o640)
    r = subprocess.run([warrend, "token", "add", "bob", "--config", "/dev/null", "--tokens", str(tokens)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "run chmod 600" in r.stderr and not r.stdout, r
