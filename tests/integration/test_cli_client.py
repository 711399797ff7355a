"""`warren create|exec|cp|ls|rm|status` against a real warrend.

A warrend ($WARREND, default <repo>/_build/warrend) is started on a temporary
unix socket (tokenless) and a loopback TCP port (a token required) with its
own state directory and tokens file; every client command
is run as a user would, checking stdout, stderr and exit codes. When the
daemon stops (SIGTERM) nothing of its sandboxes may be left: no cgroup named
after it, no process of a sandbox host uid.
"""

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from warrentest import REPO, leftovers, read_past_a_gate, snapshot

ID_RE = re.compile(r"^[0-9a-f]{32}$")
TOKEN = "s3cret-token-for-alice"
EXIT_USAGE = 125  # also exec's status when warren or warrend failed


def warrend_path():
    return os.environ.get("WARREND") or os.path.join(REPO, "_build", "warrend")


class Daemon:
    def __init__(self, warren, tmp):
        self.warren = warren
        self.sock = os.path.join(tmp, "warrend.sock")
        self.url = "unix:" + self.sock
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.tcp_url = "http://127.0.0.1:%d" % s.getsockname()[1]
        tokens = os.path.join(tmp, "tokens")
        fd = os.open(tokens, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"alice {hashlib.sha256(TOKEN.encode()).hexdigest()}\n")
        self.log = open(os.path.join(tmp, "warrend.log"), "w+")
        self.before = snapshot()
        self.proc = subprocess.Popen(
            [warrend_path(), "--config", "/dev/null", "--listen", self.url, "--listen", self.tcp_url[7:],
             "--state-dir", os.path.join(tmp, "state"), "--tokens", tokens, "--pool-size", "2"],
            stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if os.path.exists(self.sock) and self.run("status").returncode == 0:
                return
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"warrend did not come up: {self.logs()}")

    def logs(self):
        self.log.seek(0)
        return self.log.read()[-3000:]

    def run(self, *args, input=None, env=None, timeout=60, text=True):
        """Runs `warren ARGS` with WARREN_URL pointing at this daemon."""
        full_env = {k: v for k, v in os.environ.items() if k not in ("WARREN_URL", "WARREN_TOKEN")}
        full_env["WARREN_URL"] = self.url
        full_env.update(env or {})
        return subprocess.run([self.warren, *args], input=input, capture_output=True, text=text,
                              env=full_env, timeout=timeout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                pytest.fail("warrend did not exit within 30 s of SIGTERM")
        return self.proc.returncode


@pytest.fixture(scope="module")
def daemon(warren, tmp_path_factory):
    path = warrend_path()
    if not os.access(path, os.X_OK):
        pytest.skip(f"no warrend binary at {path} (build it or set WARREND)")
    d = Daemon(warren, str(tmp_path_factory.mktemp("warrend")))
    d.wait_ready()
    yield d
    status = d.stop()
    assert status == 0, f"warrend exited with {status} on SIGTERM: {d.logs()}"
    # Its sandboxes die with it: give the kernel a moment to reap them.
    deadline = time.monotonic() + 5
    while True:
        procs, _, cgroups = leftovers(d.before)
        ours = [c for c in cgroups if os.path.basename(c).startswith(f"wd-{d.proc.pid}-")]
        if not (procs or ours) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not procs, f"sandbox processes left after warrend stopped: {procs}"
    assert not ours, f"cgroups of warrend left after it stopped: {ours}"


@pytest.fixture
def session(daemon):
    """A fresh session, deleted afterwards."""
    r = daemon.run("create")
    assert r.returncode == 0, r.stderr
    sid = r.stdout.strip()
    yield sid
    daemon.run("rm", sid)


def ok(r):
    assert r.returncode == 0, f"exit {r.returncode}: {r.stderr}"
    return r


# --- status, create, ls, rm ----------------------------------------------------


def test_status_readable_and_json(daemon):
    text = ok(daemon.run("status")).stdout
    assert re.search(r"^\s*status\s+ok$", text, re.M), text
    assert re.search(r"^host\s+default\s+\d+\s+2$", text, re.M), text  # pool table
    health = json.loads(ok(daemon.run("status", "--json")).stdout)
    assert health["status"] == "ok" and health["pools"][0]["target"] == 2


def test_create_prints_the_id_alone(daemon):
    r = ok(daemon.run("create"))
    assert ID_RE.match(r.stdout.rstrip("\n")) and r.stdout.count("\n") == 1, repr(r.stdout)
    ok(daemon.run("rm", r.stdout.strip()))


def test_create_json_carries_the_limits(daemon):
    obj = json.loads(ok(daemon.run("create", "--json", "--memory", "64M", "--timeout", "5s")).stdout)
    try:
        assert ID_RE.match(obj["id"]) and obj["state"] == "ready"
        assert obj["limits"]["memory"] == "64M" and obj["limits"]["timeout"] == "5s"
    finally:
        ok(daemon.run("rm", obj["id"]))


def test_create_errors(daemon):
    r = daemon.run("create", "--memory", "100T")
    assert r.returncode == 1 and r.stderr.startswith("warren: ") and "memory" in r.stderr, r.stderr
    r = daemon.run("create", "--memory", "lots")
    assert r.returncode == EXIT_USAGE and "--memory" in r.stderr


def test_ls_lists_sessions(daemon, session):
    lines = ok(daemon.run("ls")).stdout.splitlines()
    assert re.match(r"^ID\s+IMAGE\s+POLICY\s+CREATED\s+LAST USED\s+STATE$", lines[0]), lines[0]
    row = next(l for l in lines if l.startswith(session))
    assert re.search(r"\bhost\s+default\s+\d+s ago\s+\d+s ago\s+ready$", row), row
    ids = [s["id"] for s in json.loads(ok(daemon.run("ls", "--json")).stdout)["sessions"]]
    assert session in ids


def test_rm_reports_each_failure(daemon):
    sid = ok(daemon.run("create")).stdout.strip()
    r = daemon.run("rm", sid, "0" * 32)
    assert r.returncode == 1
    assert r.stderr.count("warren: rm ") == 1 and "0" * 32 in r.stderr, r.stderr
    ids = [s["id"] for s in json.loads(ok(daemon.run("ls", "--json")).stdout)["sessions"]]
    assert sid not in ids
    assert daemon.run("rm").returncode == EXIT_USAGE


# --- exec ------------------------------------------------------------------------


def test_exec_output_and_exit_code(daemon, session):
    r = daemon.run("exec", session, "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (r.returncode, r.stdout, r.stderr) == (3, "out\n", "err\n")


def test_exec_streams_output_as_it_comes(daemon, session):
    """The command waits for a gate file the test creates only after reading
    the first line: output held back until the end would never come."""
    p = subprocess.Popen([daemon.warren, "--url", daemon.url, "exec", "--timeout", "60s", session, "--",
                          "sh", "-c", "echo first; until [ -e gate ]; do sleep 0.05; done; rm gate; echo second"],
                         stdout=subprocess.PIPE, text=True)
    first, rest = read_past_a_gate(p, 1, lambda: ok(daemon.run("exec", session, "--", "touch", "gate")))
    assert (first, rest) == ("first\n", "second\n")


def test_exec_shell_env_cwd(daemon, session):
    assert ok(daemon.run("exec", session, "--shell", "echo hi | wc -c")).stdout.strip() == "3"
    ok(daemon.run("exec", session, "--", "mkdir", "-p", "sub"))
    r = ok(daemon.run("exec", "--env", "GREETING=hello", "--cwd", "/workspace/sub", session, "--",
                      "sh", "-c", 'echo "$GREETING"; pwd'))
    assert r.stdout == "hello\n/workspace/sub\n"


def test_exec_stdin_is_binary_safe(daemon, session):
    data = bytes(range(256)) * 64
    r = daemon.run("exec", "--stdin", session, "--", "cat", input=data, text=False)
    assert r.returncode == 0 and r.stdout == data


def test_exec_json(daemon, session):
    r = daemon.run("exec", "--json", session, "--", "sh", "-c", "echo 4; exit 2")
    res = json.loads(r.stdout)
    assert r.returncode == 2 and res["exit_code"] == 2 and res["stdout"] == "4\n"


def test_exec_timeout(daemon, session):
    r = daemon.run("exec", "--timeout", "1s", session, "--", "sleep", "300")
    assert r.returncode == 124 and "warren: killed: timeout after 1s" in r.stderr, r.stderr
    ok(daemon.run("exec", session, "--", "true"))  # the session survives


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_exec_killed_by_signal(daemon, session, sig):
    r = daemon.run("exec", session, "--", "sh", "-c", f"kill -{sig.name[3:]} $$")
    assert r.returncode == 128 + sig, (r.returncode, r.stderr)


def test_exec_out_of_memory(daemon):
    sid = ok(daemon.run("create", "--memory", "64M")).stdout.strip()
    try:
        r = daemon.run("exec", sid, "--", "python3", "-c", "b = b'x' * (256 << 20)")
        assert r.returncode == 137 and "warren: killed: out of memory" in r.stderr, (r.returncode, r.stderr)
    finally:
        daemon.run("rm", sid)


def test_exec_command_not_found(daemon, session):
    r = daemon.run("exec", session, "--", "no-such-command")
    assert r.returncode == 127 and "no-such-command" in r.stderr


def test_exec_errors(daemon, session):
    r = daemon.run("exec", "0" * 32, "--", "true")
    assert r.returncode == EXIT_USAGE and r.stderr.startswith("warren: "), r.stderr
    r = daemon.run("exec", session)
    assert r.returncode == EXIT_USAGE and "COMMAND" in r.stderr
    r = daemon.run("exec", session, "--shell", "true", "--", "true")
    assert r.returncode == EXIT_USAGE


def test_exec_command_without_double_dash(daemon, session):
    """After ID the first argument that is not an option starts the command,
    and the options after it are the command's own: `-c` and `-e` here
    would be warren's --shell and --env otherwise."""
    r = ok(daemon.run("exec", session, "sh", "-c", 'echo "$0|$1"', "-e", "x"))
    assert r.stdout == "-e|x\n"
    r = ok(daemon.run("exec", "--timeout", "30s", session, "--env", "A=1", "ls", "-a", "/"))
    assert ".." in r.stdout.split()
    r = ok(daemon.run("exec", session, "--", "sh", "-c", 'echo "$0"', "-x"))
    assert r.stdout == "-x\n"


def test_env_name_alone_passes_the_callers_value(daemon):
    """`-e NAME` (create and exec) passes the caller's value of NAME; one
    the caller does not have is dropped."""
    env = {"FROM_CALLER": "hello", "SESSION_VAR": "s1"}
    sid = ok(daemon.run("create", "-e", "SESSION_VAR", "-e", "NOT_SET_HERE", env=env)).stdout.strip()
    try:
        r = ok(daemon.run("exec", "-e", "FROM_CALLER", "-e", "NOT_SET_HERE", sid, "--", "sh", "-c",
                          'echo "$FROM_CALLER|$SESSION_VAR|${NOT_SET_HERE-unset}"', env=env))
        assert r.stdout == "hello|s1|unset\n"
    finally:
        daemon.run("rm", sid)


# --- cp and ls of a workspace ------------------------------------------------------


def sandbox_sha256(daemon, sid, path):
    return ok(daemon.run("exec", sid, "--", "sha256sum", path)).stdout.split()[0]


def test_cp_upload(daemon, session, tmp_path):
    data = os.urandom(300_000)
    src = tmp_path / "blob.bin"
    src.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    ok(daemon.run("cp", str(src), f"{session}:"))
    assert sandbox_sha256(daemon, session, "/workspace/blob.bin") == digest
    ok(daemon.run("cp", str(src), f"{session}:/workspace/new/dir/"))  # parents created
    assert sandbox_sha256(daemon, session, "new/dir/blob.bin") == digest
    ok(daemon.run("exec", session, "--", "mkdir", "existing"))
    ok(daemon.run("cp", str(src), f"{session}:existing"))  # a directory: into it
    assert sandbox_sha256(daemon, session, "existing/blob.bin") == digest
    ok(daemon.run("cp", "-", f"{session}:from-stdin.txt", input="piped\n"))
    assert ok(daemon.run("exec", session, "--", "cat", "from-stdin.txt")).stdout == "piped\n"


def test_cp_download(daemon, session, tmp_path):
    ok(daemon.run("exec", session, "--shell", "mkdir -p d && head -c 300000 /dev/urandom > d/r.bin"))
    digest = sandbox_sha256(daemon, session, "d/r.bin")
    ok(daemon.run("cp", f"{session}:/workspace/d/r.bin", str(tmp_path) + "/"))
    assert hashlib.sha256((tmp_path / "r.bin").read_bytes()).hexdigest() == digest
    ok(daemon.run("cp", f"{session}:d/r.bin", str(tmp_path / "named.bin")))
    assert hashlib.sha256((tmp_path / "named.bin").read_bytes()).hexdigest() == digest
    r = ok(daemon.run("cp", f"{session}:d/r.bin", "-", text=False))
    assert hashlib.sha256(r.stdout).hexdigest() == digest
    assert sorted(os.listdir(tmp_path)) == ["named.bin", "r.bin"]  # no temporary left


def test_cp_errors(daemon, session, tmp_path):
    ok(daemon.run("exec", session, "--", "mkdir", "d"))
    for args, why in [((str(tmp_path), f"{session}:"), "is a directory"),
                      ((f"{session}:d", str(tmp_path)), "is a directory"),
                      ((f"{session}:missing.txt", str(tmp_path)), "missing.txt"),
                      ((str(tmp_path / "absent"), f"{session}:"), "No such file"),
                      ((f"{session}:/etc/passwd", str(tmp_path)), "/workspace"),
                      # dot segments never reach the daemon, which would see another URL
                      ((f"{session}:../../etc/passwd", str(tmp_path)), "leaves the workspace"),
                      ((str(tmp_path / "absent"), f"{session}:a/../../x"), "leaves the workspace")]:
        r = daemon.run("cp", *args)
        assert r.returncode == 1 and r.stderr.startswith("warren: ") and why in r.stderr, (args, r.stderr)
    assert daemon.run("cp", "a", "b").returncode == EXIT_USAGE
    assert os.listdir(tmp_path) == []


def test_ls_workspace(daemon, session):
    ok(daemon.run("exec", session, "--shell", "mkdir d && head -c 2048 /dev/zero > d/two-k && echo hi > a.txt"))
    lines = ok(daemon.run("ls", session)).stdout.splitlines()
    assert re.match(r"^NAME\s+TYPE\s+SIZE\s+MTIME$", lines[0]), lines
    assert any(re.match(r"^a\.txt\s+file\s+3\s+\d+s ago$", l) for l in lines), lines
    assert any(re.match(r"^d\s+dir", l) for l in lines), lines
    lines = ok(daemon.run("ls", f"{session}:/workspace/d")).stdout.splitlines()
    assert re.match(r"^two-k\s+file\s+2\.0K\s+", lines[1]), lines
    listing = json.loads(ok(daemon.run("ls", "--json", f"{session}:d")).stdout)
    assert [(e["name"], e["size"]) for e in listing["entries"]] == [("two-k", 2048)]
    r = daemon.run("ls", f"{session}:nothing-here")
    assert r.returncode == 1 and "nothing-here" in r.stderr


# --- where the daemon is, and who we are ---------------------------------------------


def test_daemon_not_running(daemon, tmp_path):
    url = f"unix:{tmp_path}/none.sock"
    r = daemon.run("ls", env={"WARREN_URL": url})
    assert r.returncode == 1
    assert r.stderr == f"warren: cannot reach warrend at {url}: No such file or directory (is warrend running?)\n"


def test_url_flag_before_and_after_the_command(daemon, tmp_path):
    bad = {"WARREN_URL": f"unix:{tmp_path}/none.sock"}
    ok(daemon.run("--url", daemon.url, "status", env=bad))
    ok(daemon.run("status", "--url", daemon.url, env=bad))


def test_tcp_needs_a_token(daemon):
    """The socket is the tokenless way in; over TCP the CLI sends --token or
    WARREN_TOKEN, and without one it is told so."""
    r = daemon.run("ls", env={"WARREN_URL": daemon.tcp_url})
    assert r.returncode == 1, r
    assert r.stderr == ("warren: this listener requires a token: send \"Authorization: Bearer TOKEN\" "
                        "(give one with --token or WARREN_TOKEN)\n"), r.stderr
    tcp = {"WARREN_URL": daemon.tcp_url, "WARREN_TOKEN": TOKEN}
    sid = ok(daemon.run("create", env=tcp)).stdout.strip()
    try:
        assert ok(daemon.run("exec", sid, "--", "echo", "over tcp", env=tcp)).stdout == "over tcp\n"
        assert sid in ok(daemon.run("ls", env=tcp)).stdout
        assert sid not in ok(daemon.run("ls")).stdout  # through the socket: the owner "local"
    finally:
        ok(daemon.run("rm", sid, env=tcp))


def test_token_selects_the_owner(daemon):
    sid = ok(daemon.run("create", env={"WARREN_TOKEN": TOKEN})).stdout.strip()
    try:
        anonymous = json.loads(ok(daemon.run("ls", "--json")).stdout)["sessions"]
        alice = json.loads(ok(daemon.run("ls", "--json", "--token", TOKEN)).stdout)["sessions"]
        assert sid not in [s["id"] for s in anonymous]
        assert sid in [s["id"] for s in alice]
        r = daemon.run("--token", "wrong", "ls")
        assert r.returncode == 1 and r.stderr.startswith("warren: ") and "token" in r.stderr, r.stderr
    finally:
        ok(daemon.run("rm", sid, env={"WARREN_TOKEN": TOKEN}))
