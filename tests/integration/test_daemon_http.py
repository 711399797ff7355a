"""warrend's HTTP core and lifecycle: listeners (TCP, unix socket, HTTP/2
prior knowledge), JSON errors and body limits, bearer-token auth, health,
metrics and the OpenAPI document, SIGHUP and SIGTERM.

Each test starts the real daemon ($WARREND, default <repo>/_build/warrend)
as root on a temporary unix socket and loopback port, and stops it in
teardown, checking it exits 0 and leaves no socket file behind.
"""

import grp
import http.client
import json
import os
import re
import signal
import socket
import stat
import subprocess
import tempfile
import time

import pytest

from warrentest import REPO

API_ROUTES = [  # every route of notes/api.md (method, OpenAPI path)
    ("post", "/v1/sessions"), ("get", "/v1/sessions"), ("get", "/v1/sessions/{id}"),
    ("patch", "/v1/sessions/{id}"), ("delete", "/v1/sessions/{id}"), ("post", "/v1/sessions/{id}/exec"),
    ("put", "/v1/sessions/{id}/files/{path}"), ("get", "/v1/sessions/{id}/files/{path}"),
    ("delete", "/v1/sessions/{id}/files/{path}"), ("post", "/v1/run"), ("get", "/v1/health"),
    ("get", "/metrics"), ("get", "/v1/openapi.json"), ("post", "/create_session"),
    ("post", "/execute"), ("post", "/upload_file"), ("post", "/cleanup"), ("get", "/health"),
    ("get", "/v1/images"), ("post", "/v1/sessions/{id}/processes"), ("get", "/v1/sessions/{id}/processes"),
    ("get", "/v1/sessions/{id}/processes/{pid}"), ("get", "/v1/sessions/{id}/processes/{pid}/output"),
    ("post", "/v1/sessions/{id}/processes/{pid}/stdin"), ("post", "/v1/sessions/{id}/processes/{pid}/close-stdin"),
    ("post", "/v1/sessions/{id}/processes/{pid}/signal"), ("post", "/v1/sessions/{id}/processes/{pid}/resize"),
    ("post", "/v1/sessions/{id}/artifacts"), ("get", "/v1/artifacts/{id}/{name}"),
]
METRICS = ["warren_sessions_active", "warren_sessions_created_total", "warren_pool_hits_total",
           "warren_pool_misses_total", "warren_exec_total", "warren_exec_duration_seconds_bucket",
           "warren_exec_duration_seconds_sum", "warren_exec_duration_seconds_count",
           "warren_exec_timeouts_total", "warren_exec_oom_kills_total", "warren_http_requests_total",
           "warren_artifacts", "warren_artifacts_bytes", "warren_artifacts_stored_total",
           "warren_artifacts_expired_total"]


@pytest.fixture(scope="session")
def warrend():
    path = os.environ.get("WARREND", os.path.join(REPO, "_build", "warrend"))
    if os.geteuid() != 0:
        pytest.skip("needs root: warrend creates sandboxes and cgroups")
    if not os.access(path, os.X_OK):
        pytest.skip(f"no warrend binary at {path} (build it or set WARREND)")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=10)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self.unix_path)


class Reply:
    def __init__(self, resp):
        self.status = resp.status
        self.headers = {k.lower(): v for k, v in resp.getheaders()}
        self.body = resp.read()

    def json(self):
        assert self.headers.get("content-type") == "application/json", self.headers
        assert int(self.headers["content-length"]) == len(self.body)
        return json.loads(self.body)

    def error(self, status, code):
        assert self.status == status, (self.status, self.body)
        doc = self.json()
        assert set(doc) == {"error"} and set(doc["error"]) == {"code", "message"}, doc
        assert doc["error"]["code"] == code, doc
        return doc["error"]["message"]


class Daemon:
    """One warrend on a temporary unix socket and loopback port."""

    def __init__(self, binary, tmp, extra_config="", extra_args=()):
        self.tmp = tmp
        self.sock = os.path.join(tmp, "run", "warrend.sock")
        self.port = free_port()
        self.tokens = os.path.join(tmp, "tokens")
        self.config = os.path.join(tmp, "warrend.conf")
        with open(self.config, "w") as f:
            f.write(f"listen = unix:{self.sock}\nlisten = 127.0.0.1:{self.port}\n"
                    f"state_dir = {tmp}/state\ntokens_file = {self.tokens}\npool_size = 0\n"
                    + extra_config)
        # TCP wants a token: requests over TCP send this one unless told otherwise.
        if not os.path.exists(self.tokens):
            out = subprocess.run([binary, "token", "add", "fixture", "--tokens", self.tokens],
                                 capture_output=True, text=True, check=True)
            with open(os.path.join(tmp, "fixture.token"), "w") as f:
                f.write(out.stdout.strip())
        with open(os.path.join(tmp, "fixture.token")) as f:
            self.token = f.read().strip()
        self.log = open(os.path.join(tmp, "warrend.log"), "w+")
        self.proc = subprocess.Popen([binary, "--config", self.config, *extra_args],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"warrend exited {self.proc.returncode}: {self.output()}")
            try:
                # Any HTTP answer means the listeners are up (401 with auth_local).
                if self.get("/v1/health", tcp=False).status in (200, 401):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"warrend not ready after 15 s: {self.output()}")
            time.sleep(0.05)

    def output(self):
        self.log.seek(0)
        return self.log.read()

    def request(self, method, path, body=None, headers=None, tcp=True, port=None, host="127.0.0.1", token=True):
        """One request on a new connection; over TCP with the fixture's token
        unless token=False or headers name an Authorization."""
        conn = (http.client.HTTPConnection(host, port or self.port, timeout=10) if tcp
                else UnixConnection(self.sock))
        headers = dict(headers or {})
        if tcp and token and "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            conn.request(method, path, body=body, headers=headers)
            return Reply(conn.getresponse())
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"warrend did not exit within 15 s of SIGTERM: {self.output()}")
        self.log.close()
        return code


@pytest.fixture
def start(warrend):
    daemons = []
    with tempfile.TemporaryDirectory(prefix="warrend-http-") as tmp:
        def run(extra_config="", extra_args=()):
            d = Daemon(warrend, tmp, extra_config, extra_args)
            daemons.append(d)
            return d
        yield run
        for d in daemons:
            if d.proc.poll() is None:
                assert d.stop() == 0, d.output()
            assert not os.path.exists(d.sock), "the unix socket was left behind"


@pytest.fixture
def daemon(start):
    return start()


def add_token(warrend, daemon, name):
    out = subprocess.run([warrend, "token", "add", name, "--tokens", daemon.tokens],
                         capture_output=True, text=True, check=True)
    token = out.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", token), out
    return token


def curl(*args):
    return subprocess.run(["curl", "-s", *args], capture_output=True, text=True, timeout=20)


def test_health_over_tcp_unix_and_http2(daemon):
    for tcp in (True, False):
        doc = daemon.get("/v1/health", tcp=tcp).json()
        assert doc["status"] == "ok" and doc["version"] == "0.1.0", doc
        assert isinstance(doc["uptime_s"], int) and isinstance(doc["sessions"], int)
        assert isinstance(doc["pools"], list) and doc["cgroup"] in ("v1", "v2", "none")
    compat = daemon.get("/health", tcp=False).json()
    assert compat["status"] == "healthy" and set(compat) >= {"pool_size", "active_sessions", "version"}

    r = curl("--http2-prior-knowledge", "-w", "\n%{http_version} %{http_code}",
             "-H", f"Authorization: Bearer {daemon.token}", f"http://127.0.0.1:{daemon.port}/v1/health")
    body, _, version = r.stdout.rpartition("\n")
    assert version == "2 200", r
    assert json.loads(body)["status"] == "ok"
    r = curl("--http2-prior-knowledge", "--unix-socket", daemon.sock, "-w", "\n%{http_version}",
             "http://x/health")
    assert r.stdout.endswith("\n2"), r


def test_unix_socket_mode(daemon):
    st = os.stat(daemon.sock)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660
    assert stat.S_IMODE(os.stat(os.path.dirname(daemon.sock)).st_mode) == 0o755


def test_unix_socket_group(daemon):
    """The socket is the tokenless way in: its group is "warren" (what make
    install creates and warrend.socket names), root's while that group does
    not exist."""
    try:
        want = grp.getgrnam("warren").gr_gid
    except KeyError:
        want = 0
        assert 'no group "warren": ' in daemon.output(), daemon.output()
    assert os.stat(daemon.sock).st_gid == want


def test_socket_group_setting(start):
    d = start("socket_group = nogroup\n")
    assert os.stat(d.sock).st_gid == grp.getgrnam("nogroup").gr_gid


def test_unknown_route_method_and_nul(daemon):
    assert "no route for GET /nope" in daemon.get("/nope").error(404, "not_found")
    assert daemon.get("/v1/sessions/not.an.id").status == 404
    r = daemon.request("POST", "/v1/health")
    r.error(405, "method_not_allowed")
    assert r.headers["allow"] == "GET"
    daemon.get("/v1/sessions/x/files/a%00b").error(400, "bad_request")


def test_metrics(daemon):
    daemon.get("/nope")
    text = daemon.get("/metrics").body.decode()
    r = daemon.get("/metrics")
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    for name in METRICS:
        assert re.search(rf"^{name}(\{{[^}}]*\}})? \d", text, re.M), name
    assert re.search(r'^warren_http_requests_total\{code="404"\} [1-9]', text, re.M)
    assert 'warren_exec_duration_seconds_bucket{le="+Inf"}' in text
    assert "# TYPE warren_exec_duration_seconds histogram" in text


def test_openapi_describes_every_route(daemon):
    doc = daemon.get("/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.0") and doc["info"]["version"] == "0.1.0"
    for method, path in API_ROUTES:
        assert method in doc["paths"].get(path, {}), f"{method.upper()} {path} missing"


def session_routes_present(daemon):
    # A linked route answers another method with 405; an unknown one is 404.
    if daemon.request("GET", "/v1/run").status == 404:
        pytest.skip("warrend has no session routes linked yet (stubs only)")


def test_body_limits_and_json_errors(start):
    d = start("max_json_body = 1K\n")
    session_routes_present(d)
    msg = d.request("POST", "/v1/sessions", body=b" " * 2048).error(413, "payload_too_large")
    assert "exceeds the limit of 1K" in msg
    msg = d.request("POST", "/v1/sessions", body=b'{"image": ').error(400, "bad_request")
    assert msg.startswith("malformed JSON: ") and "line 1 column" in msg, msg
    assert d.request("POST", "/v1/sessions", body=b"[1]").error(400, "bad_request") == "expected a JSON object"
    msg = d.request("POST", "/v1/sessions", body=b'{"foo": 1}').error(400, "bad_request")
    assert msg == 'unknown field "foo"'


def test_tokens(warrend, start):
    d = start(f"listen = 0.0.0.0:{free_port()}\n")
    wildcard_port = int(re.findall(r"0\.0\.0\.0:(\d+)", open(d.config).read())[0])
    alice = add_token(warrend, d, "alice")
    st = os.stat(d.tokens)
    assert stat.S_IMODE(st.st_mode) == 0o600 and alice not in open(d.tokens).read()
    bearer = {"Authorization": f"Bearer {alice}"}

    # Loaded only on SIGHUP: until then the token is unknown, and a bad token is always 401.
    r = d.get("/v1/health", headers=bearer)
    r.error(401, "unauthorized")
    assert r.headers["www-authenticate"] == "Bearer"
    d.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while d.get("/v1/health", headers=bearer).status != 200:
        assert time.monotonic() < deadline, d.output()
        time.sleep(0.05)

    # The unix socket: optional. Every TCP listener, loopback included:
    # required (a listener on 0.0.0.0 too, whatever address the client used).
    assert d.get("/v1/health", tcp=False).status == 200
    d.get("/v1/health", token=False).error(401, "unauthorized")
    d.get("/v1/health", port=wildcard_port, token=False).error(401, "unauthorized")
    assert d.get("/v1/health", port=wildcard_port, headers=bearer).status == 200
    d.get("/v1/health", headers={"Authorization": "Bearer nope"}, tcp=False).error(401, "unauthorized")
    d.get("/v1/health", headers={"Authorization": "Basic eDp5"}).error(401, "unauthorized")


def test_auth_local(warrend, start):
    d = start("auth_local = true\n", extra_args=("--verbose",))
    d.get("/v1/health", tcp=False).error(401, "unauthorized")
    d.get("/v1/health", token=False).error(401, "unauthorized")
    assert d.get("/v1/health").status == 200
    assert d.get("/v1/health", tcp=False, headers={"Authorization": f"Bearer {d.token}"}).status == 200


def test_tokenless_loopback_opt_out(warrend, start):
    """The opt-out: loopback TCP serves requests without a token again, and
    warrend says so at start."""
    d = start("tokenless_loopback = true\n")
    assert d.get("/v1/health", token=False).status == 200
    assert re.search(rf"WARNING: tokenless_loopback: 127\.0\.0\.1 port {d.port} serves requests without a "
                     r"token; every local user shares the owner \"loopback\"", d.output()), d.output()


def test_world_readable_tokens_refused(warrend, tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text("alice " + "ab" * 32 + "\n")
    tokens.chmod(0o644)
    sock = tmp_path / "w.sock"
    r = subprocess.run([warrend, "--config", "/dev/null", "--listen", f"unix:{sock}", "--tokens", str(tokens)],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1 and "chmod 600" in r.stderr, r
    assert not sock.exists()


def test_config_errors(warrend, tmp_path):
    conf = tmp_path / "warrend.conf"
    conf.write_text("pool_size = 2\nbogus = 1\n")
    r = subprocess.run([warrend, "--config", str(conf)], capture_output=True, text=True, timeout=20)
    assert r.returncode == 2 and f'{conf}:2: unknown key "bogus"' in r.stderr, r
    r = subprocess.run([warrend, "--config", str(tmp_path / "missing.conf")], capture_output=True, text=True)
    assert r.returncode == 2 and "No such file or directory" in r.stderr, r
    r = subprocess.run([warrend, "--config", "/dev/null", "--pool-size", "many"], capture_output=True, text=True)
    assert r.returncode == 2 and "--pool-size: pool_size: invalid value" in r.stderr, r
    r = subprocess.run([warrend, "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout == "warrend 0.1.0\n"


def test_socket_in_use_and_stale_socket(warrend, start, tmp_path):
    d = start()
    # A live daemon's socket is never taken over.
    r = subprocess.run([warrend, "--config", "/dev/null", "--listen", f"unix:{d.sock}"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1 and "another daemon is listening" in r.stderr, r
    assert d.get("/v1/health", tcp=False).status == 200
    # A socket file nobody listens on is replaced.
    stale = str(tmp_path / "stale.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(stale)
    s.close()
    p = subprocess.Popen([warrend, "--config", "/dev/null", "--listen", f"unix:{stale}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 15
    while True:
        try:
            c = UnixConnection(stale)
            c.request("GET", "/v1/health")
            assert c.getresponse().status == 200
            break
        except (OSError, http.client.HTTPException):
            assert p.poll() is None and time.monotonic() < deadline, p.stderr.read() if p.poll() is not None else ""
            time.sleep(0.05)
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=15) == 0
    assert not os.path.exists(stale)


def test_sigterm_stops_listening_and_exits_0(daemon):
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10)
    conn.request("GET", "/v1/health")
    assert conn.getresponse().read()
    daemon.proc.send_signal(signal.SIGTERM)
    assert daemon.proc.wait(timeout=15) == 0
    assert "draining" in daemon.output()
    assert not os.path.exists(daemon.sock)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", daemon.port), timeout=2).close()
    conn.close()
