"""Helpers of the security battery: the attacker binary, the two ways to run
it in a sandbox (`warren run`, and an exec in a warrend session), a small
HTTP client for the daemon, and the counters of the closing summary.

An attempt is one run of `attack NAME ARGS...` (attack.c) inside a sandbox.
Each try in it must fail with the errno the contract promises: it prints
"ESCAPED: ..." for every forbidden thing that worked, "UNEXPECTED: ..." for a
refusal with another errno (a failure too: the layer we count on did not
answer), and ends with "RESULT: BLOCKED", "ESCAPED" or "UNEXPECTED". A test
asserts BLOCKED, then checks the host (host_check) — every such check is
counted for the summary. test_control.py runs the same attempts outside any
sandbox, in the qemu guest, where every try must work.
"""

import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from daemon_fixture import let_sandboxes_through  # noqa: E402
from warrentest import REPO, backend_config, warren_path  # noqa: E402

STATS = {"attempts": 0, "blocked": 0, "host_checks": 0}
ESCAPES = []  # (backend, attempt, lines) of every attempt that got through
UNEXPECTED = []  # (backend, attempt, lines) of every attempt refused with the wrong errno
# The control run (test_control.py): attempts run, tries that worked outside
# a sandbox, tries that cannot work for anyone (each says why), broken tries.
CONTROL = {"attempts": 0, "works": 0, "uncontrolled": 0, "broken": 0}


def warrend_path():
    return os.environ.get("WARREND") or os.path.join(REPO, "_build", "warrend")


def host_check(ok, message):
    """One assertion about the host (or the daemon) after an attempt."""
    STATS["host_checks"] += 1
    assert ok, f"HOST CHECK FAILED: {message}"


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def compile_attack(outdir, static=False):
    """Static for the control run's guest, which has no libc of its own."""
    src = os.path.join(HERE, "attack.c")
    out = os.path.join(outdir, "attack")
    subprocess.run(["gcc", "-O1", "-Wall", *(["-static"] if static else []), "-o", out, src], check=True,
                   capture_output=True)
    os.chmod(out, 0o755)
    return out


# --- outcomes -------------------------------------------------------------------


@dataclass
class Outcome:
    """What one attempt printed and how it ended, on either backend."""

    backend: str
    name: str
    exit_code: object  # int, or None when killed by a signal
    signal: object
    stdout: str
    stderr: str
    extra: dict

    def escapes(self):
        return [l for l in self.stdout.splitlines() if l.startswith("ESCAPED")]

    def unexpected(self):
        return [l for l in self.stdout.splitlines() if l.startswith("UNEXPECTED")]

    def verdict(self):
        """escaped, unexpected (refused, but not by the promised layer),
        incomplete (no closing line) or blocked."""
        if self.escapes():
            return "escaped"
        if self.unexpected():
            return "unexpected"
        if "RESULT: BLOCKED" not in self.stdout.splitlines():
            return "incomplete"
        return "blocked"

    def assert_blocked(self):
        """The attempt ran to its end and every try in it was refused with
        the errno the contract promises."""
        STATS["attempts"] += 1
        report = f"[{self.backend}] attack {self.name}: exit {self.exit_code} signal {self.signal}\n" \
                 f"stdout:\n{self.stdout}\nstderr:\n{self.stderr}"
        verdict = self.verdict()
        if verdict == "escaped":
            ESCAPES.append((self.backend, self.name, self.escapes()))
        if verdict == "unexpected":
            UNEXPECTED.append((self.backend, self.name, self.unexpected()))
        assert verdict != "escaped", "ESCAPE: " + report
        assert verdict != "unexpected", "UNEXPECTED errno (refused, but not by the layer the contract names): " + report
        assert verdict == "blocked", "the attempt did not run to its end: " + report
        STATS["blocked"] += 1
        return self

    def count_blocked(self, ok, message):
        """For attempts judged by the test (exhaustion): count and assert."""
        STATS["attempts"] += 1
        assert ok, f"[{self.backend}] {self.name}: {message}\nstdout:\n{self.stdout[-3000:]}\n" \
                   f"stderr:\n{self.stderr[-3000:]}"
        STATS["blocked"] += 1
        return self


# --- warren run -------------------------------------------------------------------


class RunBackend:
    """`warren run` with the attacker's directory bound as /workspace."""

    name = "run"

    def __init__(self, warren, attack_dir):
        self.warren = warren
        self.attack_dir = attack_dir

    def attack(self, name, *args, options=(), timeout=60, workspace=None, private=False):
        """Runs the attacker from the bound attack directory; with `workspace`
        (a host directory) or `private` (warren's own tmpfs workspace) the
        binary comes in on stdin and runs from /tmp instead."""
        if workspace or private:
            bind = ["--workspace", workspace] if workspace else []
            argv = [self.warren, "run", "-v", *bind, *options, "--", "sh", "-c",
                    'cat > /tmp/attack && chmod 755 /tmp/attack && exec /tmp/attack "$@" </dev/null',
                    "sh", name, *args]
            stdin = open(os.path.join(self.attack_dir, "attack"), "rb")
        else:
            argv = [self.warren, "run", "-v", "--workspace", self.attack_dir, *options, "--",
                    "/workspace/attack", name, *args]
            stdin = subprocess.DEVNULL
        start = time.monotonic()
        try:
            p = subprocess.run(argv, stdin=stdin, capture_output=True, timeout=timeout)
        finally:
            if stdin is not subprocess.DEVNULL:
                stdin.close()
        seconds = time.monotonic() - start
        rc = p.returncode
        sig = rc - 128 if rc > 128 else None
        return Outcome("run", name, rc, sig, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"),
                       {"seconds": seconds})


# --- warrend ----------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Reply:
    def __init__(self, resp):
        self.status = resp.status
        self.body = resp.read()

    def json(self):
        return json.loads(self.body)


class Daemon:
    """One warrend as root: TCP on loopback, a unix socket, two API tokens
    (alice and bob), the repo's policies plus the battery's small one."""

    def __init__(self, binary, tmp, policy_dir, backend="native"):
        self.tmp = tmp
        self.backend = backend
        if backend == "oci":
            let_sandboxes_through(tmp)
        self.sock = os.path.join(tmp, "warrend.sock")
        self.port = free_port()
        self.tokens_file = os.path.join(tmp, "tokens")
        self.tokens = {}
        for who in ("alice", "bob"):
            p = subprocess.run([binary, "token", "add", who, "--tokens", self.tokens_file],
                               capture_output=True, text=True, check=True)
            self.tokens[who] = p.stdout.strip().split()[-1]
        os.chmod(self.tokens_file, 0o600)
        self.state_dir = os.path.join(tmp, "state")
        self.log = open(os.path.join(tmp, "warrend.log"), "w+")
        config = os.path.join(tmp, "warrend.conf")
        with open(config, "w") as f:
            f.write(backend_config(backend))
        self.argv = [binary, "--config", config, "--listen", f"127.0.0.1:{self.port}", "--listen", f"unix:{self.sock}",
                     "--state-dir", self.state_dir, "--pool-size", "2", "--policy-dir", policy_dir,
                     "--tokens", self.tokens_file]
        self.proc = subprocess.Popen(self.argv, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"warrend exited {self.proc.returncode}: {self.output()}")
            try:
                if self.request("GET", "/v1/health").status == 200:
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

    def request(self, method, path, body=None, who="alice", timeout=60, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        hdrs = dict(headers or {})
        if who:
            hdrs["Authorization"] = f"Bearer {self.tokens[who]}"
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            hdrs["Content-Type"] = "application/json"
        try:
            # skip_host and a raw path: the battery sends paths no client would.
            conn.putrequest(method, path, skip_accept_encoding=True)
            for k, v in hdrs.items():
                conn.putheader(k, v)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body.encode() if isinstance(body, str) else body)
            return Reply(conn.getresponse())
        finally:
            conn.close()

    def alive(self):
        if self.proc.poll() is not None:
            return False
        try:
            return self.request("GET", "/v1/health", timeout=10).status == 200
        except OSError:
            return False

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def create(self, who="alice", **body):
        r = self.request("POST", "/v1/sessions", body, who=who)
        assert r.status == 201, (r.status, r.body)
        return r.json()["id"]

    def delete(self, sid, who="alice"):
        return self.request("DELETE", f"/v1/sessions/{sid}", who=who)

    def exec(self, sid, body, who="alice", timeout=120):
        r = self.request("POST", f"/v1/sessions/{sid}/exec", body, who=who, timeout=timeout)
        assert r.status == 200, (r.status, r.body)
        return r.json()

    def put(self, sid, path, data, who="alice"):
        return self.request("PUT", f"/v1/sessions/{sid}/files/{path}", data, who=who)

    def get(self, sid, path, who="alice"):
        return self.request("GET", f"/v1/sessions/{sid}/files/{path}", who=who)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def decoded(result, stream):
    if result.get(f"{stream}_encoding") == "base64":
        import base64
        return base64.b64decode(result[stream]).decode(errors="replace")
    return result.get(stream) or ""


class DaemonBackend:
    """A fresh session per attempt; the attacker is uploaded through the files API."""

    name = "daemon"

    def __init__(self, daemon, attack_path):
        self.daemon = daemon
        with open(attack_path, "rb") as f:
            self.attack_bytes = f.read()

    def session(self, who="alice", **body):
        sid = self.daemon.create(who, **body)
        r = self.daemon.put(sid, "attack", self.attack_bytes, who=who)
        assert r.status == 201, (r.status, r.body)
        return sid

    def run_in(self, sid, name, *args, who="alice", timeout=None, **body):
        cmd = ["sh", "-c", 'chmod 755 /workspace/attack && exec /workspace/attack "$@"', "sh", name, *args]
        req = {"cmd": cmd, **body}
        if timeout:
            req["timeout"] = timeout
        start = time.monotonic()
        res = self.daemon.exec(sid, req, who=who)
        seconds = time.monotonic() - start
        backend = "daemon" if self.daemon.backend == "native" else f"daemon-{self.daemon.backend}"
        return Outcome(backend, name, res.get("exit_code"), res.get("signal"), decoded(res, "stdout"),
                       decoded(res, "stderr"), {"result": res, "seconds": seconds})

    def attack(self, name, *args, session=None, **body):
        session = session or {}
        sid = self.session(**session)
        try:
            return self.run_in(sid, name, *args, who=session.get("who", "alice"), **body)
        finally:
            self.daemon.delete(sid, who=session.get("who", "alice"))


def policy_rlimits(name="default"):
    """The rlimits of a policy of the repo as the attacker takes them:
    core, nofile, fsize in bytes (or "unlimited")."""
    with open(os.path.join(REPO, "policy", f"{name}.json")) as f:
        rl = json.load(f)["rlimits"]
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}

    def value(v):
        if v == "unlimited" or isinstance(v, int):
            return str(v)
        return str(int(v[:-1]) * units[v[-1].upper()] if v[-1].isalpha() else int(v))
    return {k: value(rl[k]) for k in ("core", "nofile", "fsize")}


def copy_policies(dst):
    """The repo's policies plus `battery`: the default with small limits so
    exhaustion attempts end fast."""
    os.makedirs(dst, exist_ok=True)
    for name in os.listdir(os.path.join(REPO, "policy")):
        if name.endswith(".json"):
            shutil.copy(os.path.join(REPO, "policy", name), dst)
    with open(os.path.join(REPO, "policy", "default.json")) as f:
        pol = json.load(f)
    pol["name"] = "battery"
    pol["description"] = "The security battery's small limits."
    pol["limits"].update({"memory": "128M", "pids": 64, "cpus": 0.5, "timeout": "20s", "workspace": "16M",
                          "tmp": "16M", "output": "1M"})
    path = os.path.join(dst, "battery.json")
    with open(path, "w") as f:
        json.dump(pol, f, indent=2)
    return path
