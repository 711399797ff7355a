"""Start the real warrend for the test_daemon_* integration tests.

The daemon under test is $WARREND (default <repo>/_build/warrend). It runs as
root on a temporary unix socket and a loopback TCP port, with its own state
directory, --pool-size 2 and the repository's policies. TCP wants a token:
each daemon has its own tokens file with a token "fixture" (minted by
`warrend token add`), which every request of Daemon.http (get, post, ...)
sends; Daemon.add_token mints more. Stopping it (SIGTERM)
checks that it exited 0 and left nothing: no socket file, no state file under
<state-dir>/sessions, no wd-<pid>-* cgroup and no process of its sandboxes.

Fixtures (import them into a test module to use them):
  warrend       path of the binary; skips visibly without root or binary
  daemon        one daemon shared by the tests of a module
  start_daemon  factory for tests that need their own daemon(s): start_daemon(*extra_args)
"""

import glob
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import time

import pytest
import requests

from warrentest import (BACKENDS, REPO, backend_config, backend_leftovers, backend_unavailable,
                        in_sandbox_range, read_proc, warren_cgroups)

READY_TIMEOUT = 15


def warrend_path():
    return os.environ.get("WARREND") or os.path.join(REPO, "_build", "warrend")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pid_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(predicate, timeout, interval=0.05):
    """Polls predicate until it is truthy or timeout seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


class UnixConnection(http.client.HTTPConnection):
    """http.client over a unix stream socket."""

    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def let_sandboxes_through(path):
    """o+x on path and its parents: the oci backend's runtime mounts each
    bundle's rootfs as the sandbox's (unprivileged) root, and pytest's
    temporary directories are 0700."""
    path = os.path.abspath(path)
    while path not in ("/", "/tmp"):
        os.chmod(path, os.stat(path).st_mode | 0o001)
        path = os.path.dirname(path)


class Daemon:
    """One warrend process and what it owns on the host."""

    def __init__(self, binary, workdir, extra_args=(), backend="native", config_extra=""):
        self.binary = binary
        self.backend = backend
        self.config_extra = config_extra  # more warrend.conf lines
        self.workdir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.state_dir = os.path.join(workdir, "state")
        self.sock = os.path.join(workdir, "w.sock")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_args = list(extra_args)
        self.proc = None
        self.log_path = os.path.join(workdir, "warrend.log")
        let_sandboxes_through(workdir)  # any daemon may run oci sessions ("backend": "oci")
        self.init_pids = set()  # every sandbox init seen in a state file
        self.tokens = os.path.join(workdir, "tokens")
        if "--tokens" in self.extra_args:
            # a test's own tokens file: the fixture's token joins it, so
            # the fixture can still tell when the daemon is up
            at = self.extra_args.index("--tokens")
            self.tokens = self.extra_args[at + 1]
            del self.extra_args[at:at + 2]
        self.token = self.fixture_token()
        self.auth = {"Authorization": f"Bearer {self.token}"}
        self.http = requests.Session()
        self.http.headers.update(self.auth)

    # --- tokens ----------------------------------------------------------------

    def fixture_token(self):
        """The token every request of self.http sends; kept in the workdir so
        a daemon restarted on it (start_daemon(workdir=...)) knows it too."""
        saved = os.path.join(self.workdir, "fixture.token")
        if os.path.exists(saved):
            with open(saved) as f:
                return f.read().strip()
        token = mint_token(self.binary, self.tokens, "fixture")
        fd = os.open(saved, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token)
        return token

    def add_token(self, name, *restrictions):
        """`warrend token add NAME [RESTRICTION]...` into this daemon's tokens
        file; a running daemon is sent SIGHUP and waited for. Returns the
        Authorization header of the new token."""
        header = {"Authorization": f"Bearer {mint_token(self.binary, self.tokens, name, *restrictions)}"}
        if self.running:
            self.send(signal.SIGHUP)
            assert wait_for(lambda: requests.get(self.url + "/v1/health", headers=header, timeout=10).ok, 10), \
                f"token {name} not loaded after SIGHUP: {self.log()}"
        return header

    # --- process ---------------------------------------------------------------

    def argv(self):
        config = os.path.join(self.workdir, "warrend.conf")
        with open(config, "w") as f:
            f.write(backend_config(self.backend) + self.config_extra)
        return [self.binary, "--config", config, "--listen", f"127.0.0.1:{self.port}",
                "--listen", f"unix:{self.sock}", "--state-dir", self.state_dir, "--pool-size", "2",
                "--tokens", self.tokens,
                "--policy-dir", os.path.join(REPO, "policy"), *self.extra_args]

    def start(self, pool_ready=True):
        """Starts the daemon and waits for /v1/health (and, with pool_ready, a warm pool)."""
        self.log_file = open(self.log_path, "ab")
        self.log_offset = self.log_file.tell()
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=self.log_file,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"warrend exited {self.proc.returncode} at start: {self.log()}")
            if time.monotonic() > deadline:
                self.proc.kill()  # never leave a daemon that did not come up
                self.proc.wait()
                raise AssertionError(f"warrend not ready after {READY_TIMEOUT}s: {self.log()}")
            try:
                h = self.http.get(self.url + "/v1/health", timeout=2)
                if h.status_code == 200 and (not pool_ready or self.pool_ready(h.json())):
                    return self
            except (requests.ConnectionError, requests.Timeout):
                pass  # not listening yet, or still cleaning up at start (a busy engine is slow)
            time.sleep(0.05)

    @staticmethod
    def pool_ready(health):
        return all(p["ready"] >= p["target"] for p in health["pools"])

    def wait_pool_ready(self, timeout=10):
        return wait_for(lambda: self.pool_ready(self.get("/v1/health").json()), timeout)

    def log(self):
        """What this daemon (the latest start) wrote to stdout/stderr so far."""
        with open(self.log_path, "rb") as f:
            f.seek(self.log_offset)
            return f.read().decode(errors="replace")

    def send(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Signals the daemon and waits for its exit; returns (exit status, seconds)."""
        start = time.monotonic()
        self.record_init_pids()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"warrend did not exit within {timeout}s of signal {int(sig)}: {self.log()}")
        finally:
            self.log_file.close()
        return rc, time.monotonic() - start

    def kill(self):
        """SIGKILL: the daemon gets no chance to clean up."""
        self.record_init_pids()
        self.proc.kill()
        self.proc.wait()
        self.log_file.close()

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    # --- host state --------------------------------------------------------------

    def state_files(self):
        """The parsed <state-dir>/sessions/*.json files."""
        out = []
        for path in sorted(glob.glob(os.path.join(self.state_dir, "sessions", "*.json"))):
            try:
                with open(path) as f:
                    out.append(json.load(f))
            except (OSError, ValueError):
                continue  # being written or removed right now
        return out

    def record_init_pids(self):
        self.init_pids.update(s["init_pid"] for s in self.state_files() if "init_pid" in s)

    def init_pid(self, session_id):
        for s in self.state_files():
            if s.get("id") == session_id:
                self.init_pids.add(s["init_pid"])
                return s["init_pid"]
        raise AssertionError(f"no state file for session {session_id} in {self.state_dir}")

    def cgroup_value(self, session_id, controller):
        """The sandbox's memory or pids limit, read on the host from its cgroup."""
        for s in self.state_files():
            if s.get("id") != session_id:
                continue
            # "cgroup v1 /sys/fs/cgroup/{memory,pids,cpu}/warren/wd-1-2" or "cgroup v2 DIR",
            # after what the backend says of its sandbox ("runc container wd-1-2, ")
            version, where = re.search(r"cgroup (v1|v2) (\S+)$", s["cgroup"]).groups()
            if version == "v2":
                path = where + ("/memory.max" if controller == "memory" else "/pids.max")
            else:
                path = re.sub(r"\{[a-z,]+\}", controller, where)
                path += "/memory.limit_in_bytes" if controller == "memory" else "/pids.max"
            with open(path) as f:
                return int(f.read())
        raise AssertionError(f"no state file for session {session_id} in {self.state_dir}")

    def cgroups(self, pid=None):
        """This daemon's sandbox cgroups (named wd-<daemon pid>-<n>)."""
        pid = pid or self.proc.pid
        parent = os.environ.get("WARREN_CGROUP_PARENT", "warren").strip("/")
        return sorted(p for p in warren_cgroups(parent) if os.path.basename(p).startswith(f"wd-{pid}-"))

    def live_inits(self):
        return sorted(p for p in self.init_pids if pid_alive(p) and in_sandbox_range(read_proc(p).uid))

    def assert_clean(self, pid=None):
        """Nothing of the (stopped) daemon remains on the host."""
        pid = pid or self.proc.pid
        assert not os.path.exists(self.sock), f"socket {self.sock} left behind"
        left = os.listdir(os.path.join(self.state_dir, "sessions"))
        assert not left, f"state files left behind: {left}"
        # Sandboxes destroyed a moment ago may still be exiting.
        wait_for(lambda: not (self.cgroups(pid) or self.live_inits()), 3)
        assert not self.cgroups(pid), f"cgroups left behind: {self.cgroups(pid)}"
        assert not self.live_inits(), f"sandbox inits still alive: {self.live_inits()}"
        left = backend_leftovers(self.backend, self.state_dir, pid)
        assert not left, f"the {self.backend} backend left: {left}"

    # --- HTTP ------------------------------------------------------------------------

    def get(self, path, **kw):
        kw.setdefault("timeout", 60)
        return self.http.get(self.url + path, **kw)

    def post(self, path, body=None, **kw):
        kw.setdefault("timeout", 60)
        if body is not None:
            kw["json"] = body
        return self.http.post(self.url + path, **kw)

    def delete(self, path, **kw):
        kw.setdefault("timeout", 60)
        return self.http.delete(self.url + path, **kw)

    def create(self, **body):
        """POST /v1/sessions; asserts 201 and returns the session object."""
        r = self.post("/v1/sessions", body)
        assert r.status_code == 201, (r.status_code, r.text)
        return r.json()

    def exec(self, sid, **body):
        """POST /v1/sessions/{sid}/exec; asserts 200 and returns the result."""
        r = self.post(f"/v1/sessions/{sid}/exec", body)
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()

    def remove(self, sid):
        r = self.delete(f"/v1/sessions/{sid}")
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()

    def unix_request(self, method, path, body=None, headers=None):
        conn = UnixConnection(self.sock)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()


def mint_token(binary, tokens, name, *restrictions):
    """`warrend token add NAME` into the tokens file `tokens` (created 0600,
    owned by root, as warrend wants it); returns the token."""
    r = subprocess.run([binary, "token", "add", name, *restrictions, "--config", "/dev/null", "--tokens", tokens],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0 and re.fullmatch(r"[0-9a-f]{64}\n", r.stdout), r
    return r.stdout.strip()


def assert_error(r, status, code, *in_message):
    """r is the JSON error {"error":{"code","message"}} with this status; the
    message contains every string of in_message."""
    assert r.status_code == status, (r.status_code, r.text)
    doc = r.json()
    assert set(doc) == {"error"} and set(doc["error"]) == {"code", "message"}, doc
    assert doc["error"]["code"] == code, doc
    for s in in_message:
        assert s in doc["error"]["message"], doc
    return doc["error"]["message"]


# --- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def warrend():
    path = warrend_path()
    if not os.path.isabs(path):
        pytest.fail(f"WARREND must be an absolute path, got {path!r}")
    if os.geteuid() != 0:
        pytest.skip("needs root: warrend creates sandboxes, cgroups and per-sandbox host uid ranges")
    if not os.access(path, os.X_OK):
        pytest.skip(f"no warrend binary at {path} (build it or set WARREND)")
    return path


def stop_and_check(d):
    if d.running:
        rc, _ = d.stop()
        assert rc == 0, f"warrend exited {rc} on SIGTERM: {d.log()}"
    d.assert_clean()


# Both depend on conftest's nothing_left_behind so that pytest stops the
# daemons before that check of the host runs.
#
# `daemon` runs every test that uses it once per backend (test ids end in
# [native], [oci], [docker]). A test that cannot hold on some backend says
# so with @pytest.mark.backends("native", …, why="…"): the other backends'
# runs are deselected (counted in pytest's summary, and as skipped with the
# reason in tests/run's closing line) and the difference is documented in
# warrend.conf(5).
@pytest.fixture(scope="module", params=BACKENDS)
def daemon(warrend, tmp_path_factory, nothing_left_behind, request):
    why = backend_unavailable(request.param)
    if why:
        pytest.skip(f"backend {request.param}: {why}")
    d = Daemon(warrend, str(tmp_path_factory.mktemp(f"warrend-{request.param}")), backend=request.param).start()
    yield d
    stop_and_check(d)


def deselect_other_backends(config, items):
    """The collection hook behind @pytest.mark.backends (conftest.py calls it)."""
    keep, drop = [], []
    for item in items:
        marker = item.get_closest_marker("backends")
        params = item.callspec.params if hasattr(item, "callspec") else {}
        backend = params.get("daemon") or params.get("backend_daemon")  # the security battery's
        sanitizers = item.get_closest_marker("not_under_sanitizers")
        if marker and backend and backend not in marker.args:
            # tests/runner/collection_report.py reports it, and tests/run
            # counts it as skipped with this reason in its closing line
            item.warren_deselected = f"on {backend}: {marker.kwargs.get('why', 'no reason given')}"
            drop.append(item)
        elif sanitizers and os.environ.get("WARREN_SANITIZERS") == "1":
            item.warren_deselected = f"under sanitizers: {sanitizers.kwargs.get('why', 'no reason given')}"
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture
def start_daemon(warrend, tmp_path_factory, nothing_left_behind):
    started = []

    def start(*extra_args, workdir=None, pool_ready=True, backend="native", config_extra=""):
        why = backend_unavailable(backend)
        if why:
            pytest.skip(f"backend {backend}: {why}")
        d = Daemon(warrend, workdir or str(tmp_path_factory.mktemp("warrend")), extra_args, backend=backend,
                   config_extra=config_extra)
        started.append(d)
        return d.start(pool_ready=pool_ready)

    yield start
    # Newest first: a daemon restarted on the state dir of a killed one cleans up after it.
    # Every daemon is stopped even when one fails its check; the first failure is raised.
    failure = None
    for d in reversed(started):
        try:
            stop_and_check(d)
        except Exception as exc:  # noqa: BLE001 (re-raised below)
            failure = failure or exc
    if failure:
        raise failure
