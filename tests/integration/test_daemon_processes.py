"""Processes of a session through the real daemon (issue 13): commands that
outlive the request that started them, whose output is followed, left and
resumed from an event id; stdin, signals, a terminal of the sandbox's own
and its size; the caps that keep one session from holding the daemon, and
the end of every process with its session.

Streams are read on connections of their own with a read timeout (a hung
read fails the test); every wait is on an event or a state the daemon
reports, with a generous ceiling, never a sleep."""

import base64
import http.client
import json
import re
import time

import pytest

from daemon_fixture import assert_error, daemon, start_daemon, wait_for, warrend  # noqa: F401 (fixtures)

CEILING = 30  # seconds any awaited event may take on a loaded host
TERMINALS = pytest.mark.backends("native", "oci", why="docker: no terminals, no signals but SIGKILL "
                                                       "(warrend.conf(5), BACKENDS)")


def text_of(data):
    """An output event's bytes as text: "data", or "data_base64" decoded."""
    if "data_base64" in data:
        return base64.b64decode(data["data_base64"]).decode(errors="replace")
    return data.get("data", "")


class Stream:
    """GET …/processes/PID/output as server-sent events, on a connection of
    its own; next() is (id, event, data) or None at the stream's end. The
    daemon's keep-alive comments keep the socket busy: the ceiling is
    counted here."""

    def __init__(self, d, sid, pid, last_id=None, method="GET"):
        self.deadline = time.monotonic() + CEILING
        self.conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=CEILING)
        headers = dict(d.auth)
        if last_id is not None:
            headers["Last-Event-ID"] = str(last_id)
        self.conn.request(method, f"/v1/sessions/{sid}/processes/{pid}/output", headers=headers)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.headers = self.resp.headers

    def next(self):
        event, data, ident = None, [], None
        while True:
            assert time.monotonic() < self.deadline, "no event within the ceiling"
            line = self.resp.readline()
            if not line:
                return None
            line = line.decode().rstrip("\r\n")
            if line == "":
                if data:
                    return int(ident), event, json.loads("\n".join(data))
                continue
            name, _, value = line.partition(": ")
            if name == "id":
                ident = value
            elif name == "event":
                event = value
            elif name == "data":
                data.append(value)

    def events(self):
        """Every event up to the stream's end."""
        out = []
        while (ev := self.next()) is not None:
            out.append(ev)
        return out

    def until(self, pattern):
        """Events up to the first output whose text matches pattern."""
        seen = []
        while True:
            ev = self.next()
            assert ev is not None, f"the stream ended before {pattern!r}: {seen}"
            seen.append(ev)
            if ev[1] in ("stdout", "stderr", "pty") and re.search(pattern, text_of(ev[2])):
                return seen

    def close(self):
        self.conn.close()


def start(d, sid, expect=201, **body):
    r = d.post(f"/v1/sessions/{sid}/processes", body)
    assert r.status_code == expect, (r.status_code, r.text)
    return r.json()


def proc(d, sid, pid):
    r = d.get(f"/v1/sessions/{sid}/processes/{pid}")
    assert r.status_code == 200, r.text
    return r.json()


def post(d, sid, pid, action, body=None, **kw):
    return d.post(f"/v1/sessions/{sid}/processes/{pid}/{action}", body, **kw)


def output_of(events, kinds=("stdout", "stderr", "pty")):
    return "".join(text_of(e[2]) for e in events if e[1] in kinds)


def finished(d, sid, pid):
    """Waits for the process's end; its result."""
    assert wait_for(lambda: proc(d, sid, pid)["state"] == "exited", CEILING), proc(d, sid, pid)
    return proc(d, sid, pid)["result"]


@pytest.fixture
def sid(daemon):
    s = daemon.create()["id"]
    yield s
    daemon.delete(f"/v1/sessions/{s}")


# --- a process outlives its client; its output resumes from an event id --------------


def test_a_server_outlives_its_client_and_its_output_resumes(daemon, sid):
    p = start(daemon, sid, cmd=["python3", "-u", "-m", "http.server", "--bind", "127.0.0.1", "8765"], tag="web")
    assert p["pid"] >= 1 and p["state"] == "running" and p["tag"] == "web", p
    first = Stream(daemon, sid, p["pid"])
    assert first.status == 200 and first.headers["Content-Type"] == "text/event-stream"
    seen = first.until(r"Serving HTTP on 127\.0\.0\.1 port 8765")
    last_id = seen[-1][0]
    first.close()  # the client goes away: the server must not

    r = daemon.exec(sid, cmd=["python3", "-c", "import urllib.request as u; "
                              "print(u.urlopen('http://127.0.0.1:8765/').status)"])
    assert r["exit_code"] == 0 and r["stdout"] == "200\n", r
    assert proc(daemon, sid, p["pid"])["state"] == "running"

    again = Stream(daemon, sid, p["pid"], last_id=last_id)
    seen = again.until(r'"GET / HTTP/1\.1" 200')
    assert all(ev[0] > last_id for ev in seen), seen  # nothing it had already
    assert "Serving HTTP" not in output_of(seen)
    assert post(daemon, sid, p["pid"], "signal", {"signal": "KILL"}).status_code == 200
    rest = again.events()
    assert rest[-1][1] == "exit" and rest[-1][2]["signal"] == 9, rest
    assert [e[0] for e in seen + rest] == sorted(e[0] for e in seen + rest)
    again.close()
    assert proc(daemon, sid, p["pid"])["state"] == "exited"


def test_several_followers_see_the_same_events(daemon, sid):
    p = start(daemon, sid, cmd=["sh", "-c", "read go; for i in 1 2 3; do echo line $i; done; echo oops >&2"],
              stdin=True)
    a, b = Stream(daemon, sid, p["pid"]), Stream(daemon, sid, p["pid"])
    assert wait_for(lambda: proc(daemon, sid, p["pid"])["followers"] == 2, CEILING)
    assert post(daemon, sid, p["pid"], "stdin", data=b"go\n").status_code == 200
    ea, eb = a.events(), b.events()
    assert ea == eb, (ea, eb)
    assert output_of(ea, ("stdout",)) == "line 1\nline 2\nline 3\n"
    assert output_of(ea, ("stderr",)) == "oops\n"
    assert ea[-1][1] == "exit" and ea[-1][2]["exit_code"] == 0
    # one who comes later gets all of it, kept; one with the exit's id gets nothing more
    assert Stream(daemon, sid, p["pid"]).events() == ea
    assert Stream(daemon, sid, p["pid"], last_id=ea[-1][0]).events() == []


# --- stdin -------------------------------------------------------------------------


def test_stdin_reaches_read_as_bytes_or_base64(daemon, sid):
    p = start(daemon, sid, cmd=["sh", "-c", 'read a; read b; echo "$b $a"'], stdin=True)
    assert p["stdin"] is True
    r = post(daemon, sid, p["pid"], "stdin", data=b"first\n", headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 200 and r.json() == {"pid": p["pid"], "bytes": 6}, r.text
    assert post(daemon, sid, p["pid"], "stdin", {"data_base64": "c2Vjb25kCg=="}).status_code == 200
    events = Stream(daemon, sid, p["pid"]).events()
    assert output_of(events) == "second first\n"
    assert events[-1][2]["exit_code"] == 0
    assert_error(post(daemon, sid, p["pid"], "stdin", {"data": "late\n"}), 409, "conflict", "has ended")


def test_close_stdin_is_eof(daemon, sid):
    p = start(daemon, sid, cmd=["sh", "-c", "cat; echo done"], stdin=True)
    assert post(daemon, sid, p["pid"], "stdin", {"data": "kept\n"}).status_code == 200
    assert post(daemon, sid, p["pid"], "close-stdin").status_code == 200
    events = Stream(daemon, sid, p["pid"]).events()
    assert output_of(events) == "kept\ndone\n" and events[-1][2]["exit_code"] == 0
    q = start(daemon, sid, cmd=["sleep", "60"])
    assert_error(post(daemon, sid, q["pid"], "stdin", {"data": "x"}), 409, "conflict", "without stdin")
    assert post(daemon, sid, q["pid"], "signal", {"signal": "KILL"}).status_code == 200


# --- signals, timeouts -------------------------------------------------------------


@TERMINALS
def test_sigint_ends_a_sleep(daemon, sid):
    p = start(daemon, sid, cmd=["sleep", "300"])
    follow = Stream(daemon, sid, p["pid"])
    r = post(daemon, sid, p["pid"], "signal", {"signal": "SIGINT"})
    assert r.status_code == 200, r.text
    events = follow.events()
    assert events[-1][1] == "exit" and events[-1][2]["signal"] == 2 and events[-1][2]["exit_code"] is None
    assert proc(daemon, sid, p["pid"])["result"]["signal"] == 2
    assert_error(post(daemon, sid, p["pid"], "signal", {"signal": 15}), 409, "conflict", "has ended")


@pytest.mark.backends("native", "oci", why="docker: a kill ends the command's process tree, and what double "
                                           "forked out of it lives on (warrend.conf(5), BACKENDS)")
def test_sigkill_ends_what_it_started(daemon, sid):
    # SIGKILL takes the process's cgroup: what it left behind goes too
    p = start(daemon, sid, cmd=["sh", "-c", "(sleep $0 &) ; sleep $0", "301"])  # only the sleeps say "sleep 301"
    count = ["sh", "-c", "cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' ' | grep -o 'sleep 30[1]' | wc -l"]
    assert wait_for(lambda: daemon.exec(sid, cmd=count)["stdout"].strip() == "2", CEILING)
    assert post(daemon, sid, p["pid"], "signal", {"signal": 9}).status_code == 200
    assert finished(daemon, sid, p["pid"])["signal"] == 9
    assert daemon.exec(sid, cmd=count)["stdout"].strip() == "0"


def test_a_process_killed_as_it_starts_was_killed(daemon, sid):
    """A SIGKILL that lands while the backend is still starting the command
    (oci: the runtime's exec) is reported as the kill, not as a failure to
    start."""
    procs = [start(daemon, sid, cmd=["sleep", "302"]) for _ in range(8)]
    for p in procs:
        assert post(daemon, sid, p["pid"], "signal", {"signal": "KILL"}).status_code == 200
    for p in procs:
        r = finished(daemon, sid, p["pid"])
        assert r["signal"] == 9 and r["exit_code"] is None, r


def test_signals_are_validated(daemon, sid):
    p = start(daemon, sid, cmd=["sleep", "60"])
    for bad in ("SIGFOO", 0, 65, -1, "9x", None, ""):
        assert_error(post(daemon, sid, p["pid"], "signal", {"signal": bad}), 400, "bad_request", "signal")
    assert_error(post(daemon, sid, p["pid"], "signal", {"signal": "KILL", "x": 1}), 400, "bad_request",
                 'unknown field "x"')
    assert post(daemon, sid, p["pid"], "signal", {"signal": "kill"}).status_code == 200


def test_a_process_ends_at_its_timeout(daemon, sid):
    p = start(daemon, sid, cmd=["sleep", "300"], timeout="1s")
    assert p["timeout"] == "1s"
    res = finished(daemon, sid, p["pid"])
    assert res["timed_out"] is True and res["signal"] == 9, res
    assert_error(daemon.post(f"/v1/sessions/{sid}/processes", {"cmd": ["true"], "timeout": "100h"}), 400,
                 "bad_request", "timeout: exceeds the session's limit")


def test_a_command_that_cannot_start_says_why(daemon, sid):
    p = start(daemon, sid, cmd=["no-such-command-here"])
    res = finished(daemon, sid, p["pid"])
    assert res["exit_code"] == 127 and "no-such-command-here" in res["error"], res


# --- a terminal -------------------------------------------------------------------


@TERMINALS
def test_a_terminal_its_size_and_a_resize(daemon, sid):
    p = start(daemon, sid, cmd=["sh", "-c", 'tty; echo "TERM=$TERM"; stty size; read x; stty size'],
              pty={"cols": 100, "rows": 30})
    assert p["pty"] == {"cols": 100, "rows": 30} and p["stdin"] is True
    follow = Stream(daemon, sid, p["pid"])
    seen = follow.until(r"30 100")
    text = output_of(seen)
    assert re.search(r"^/dev/pts/\d+\r$", text, re.M), text
    assert "TERM=xterm\r\n" in text
    assert all(e[1] == "pty" for e in seen), seen
    r = post(daemon, sid, p["pid"], "resize", {"cols": 120, "rows": 40})
    assert r.status_code == 200 and r.json()["pty"] == {"cols": 120, "rows": 40}, r.text
    assert post(daemon, sid, p["pid"], "stdin", {"data": "\r"}).status_code == 200
    rest = follow.events()
    assert "40 120" in output_of(rest) and rest[-1][2]["exit_code"] == 0, rest
    assert_error(post(daemon, sid, p["pid"], "resize", {"cols": 0, "rows": 5}), 400, "bad_request", "cols")


@TERMINALS
def test_the_terminal_has_its_size_before_the_command_starts(daemon, sid):
    """The first thing a command does may be to read its size (a shell's
    prompt, an editor's first screen): it must not see 0 0. Ten at once
    make the race, if any, likely."""
    procs = [start(daemon, sid, cmd=["stty", "size"], pty={"cols": 91, "rows": 27}) for _ in range(10)]
    for p in procs:
        events = Stream(daemon, sid, p["pid"]).events()
        assert output_of(events) == "27 91\r\n" and events[-1][2]["exit_code"] == 0, events


@TERMINALS
def test_a_full_screen_editor_driven_through_its_terminal(daemon, sid):
    """vim (vim.tiny here) in the process's terminal: keys typed as bytes,
    the file it writes read back."""
    p = start(daemon, sid, cmd=["vim", "-u", "NONE", "-N", "-n", "note.txt"], pty={"cols": 80, "rows": 24})
    follow = Stream(daemon, sid, p["pid"])
    follow.until(r"note\.txt")  # its screen is drawn
    for keys in ("ihello from vim", "\x1b", ":wq\r"):
        assert post(daemon, sid, p["pid"], "stdin", {"data": keys}).status_code == 200
    events = follow.events()
    assert events[-1][1] == "exit" and events[-1][2]["exit_code"] == 0, events[-3:]
    assert daemon.exec(sid, cmd=["cat", "note.txt"])["stdout"] == "hello from vim\n"


@TERMINALS
def test_ctrl_c_typed_into_a_terminal_interrupts(daemon, sid):
    p = start(daemon, sid, cmd=["sh", "-c", "echo ready; sleep 300"], pty={})
    assert p["pty"] == {"cols": 80, "rows": 24}
    follow = Stream(daemon, sid, p["pid"])
    follow.until("ready")
    assert post(daemon, sid, p["pid"], "stdin", {"data": "\x03"}).status_code == 200
    events = follow.events()
    assert events[-1][1] == "exit" and events[-1][2]["signal"] == 2, events
    assert_error(post(daemon, sid, p["pid"], "close-stdin"), 409, "conflict")


@pytest.mark.backends("docker", why="the backend without terminals and signals (warrend.conf(5), BACKENDS)")
def test_a_backend_without_terminals_says_so(daemon, sid):
    assert_error(daemon.post(f"/v1/sessions/{sid}/processes", {"cmd": ["true"], "pty": {}}), 501, "not_implemented",
                 "the docker backend cannot give a command a terminal")
    p = start(daemon, sid, cmd=["sleep", "300"])
    assert_error(post(daemon, sid, p["pid"], "signal", {"signal": "INT"}), 501, "not_implemented",
                 "the docker backend cannot send signals other than SIGKILL")
    assert post(daemon, sid, p["pid"], "signal", {"signal": "KILL"}).status_code == 200
    finished(daemon, sid, p["pid"])


def test_things_a_process_without_a_terminal_cannot_do(daemon, sid):
    p = start(daemon, sid, cmd=["sleep", "60"])
    assert_error(post(daemon, sid, p["pid"], "resize", {"cols": 80, "rows": 24}), 409, "conflict",
                 "no terminal")
    assert post(daemon, sid, p["pid"], "signal", {"signal": "KILL"}).status_code == 200


# --- requests the API refuses ------------------------------------------------------------


@pytest.mark.parametrize("body, message", [
    ({}, 'exactly one of "cmd"'),
    ({"cmd": ["true"], "stdin": "text"}, "stdin: expected true"),
    ({"cmd": ["true"], "pty": {"cols": 80}}, "cols and rows"),
    ({"cmd": ["true"], "pty": {"cols": 80, "rows": 70000}}, "cols and rows"),
    ({"cmd": ["true"], "pty": 3}, "pty: expected"),
    ({"cmd": ["true"], "tag": "x" * 300}, "tag: expected 1 to 256 bytes"),
    ({"cmd": ["true"], "tag": 5}, "tag: expected a string"),
    ({"cmd": ["true"], "cwd": "/etc"}, "cwd: expected /workspace"),
    ({"cmd": ["true"], "stream": True}, 'unknown field "stream"'),
])
def test_bad_process_requests(daemon, sid, body, message):
    assert_error(daemon.post(f"/v1/sessions/{sid}/processes", body), 400, "bad_request", message)


def test_unknown_processes_and_routes(daemon, sid):
    base = f"/v1/sessions/{sid}/processes"
    assert_error(daemon.get(f"{base}/99"), 404, "not_found", "has no process 99")
    assert_error(daemon.get(f"{base}/abc"), 404, "not_found")
    assert_error(daemon.get(f"{base}/99999999999"), 404, "not_found")
    assert_error(daemon.get("/v1/sessions/nosuchsession/processes"), 404, "not_found")
    p = start(daemon, sid, cmd=["sleep", "60"])
    assert_error(daemon.get(f"{base}/{p['pid']}/nothing"), 404, "not_found")
    r = daemon.get(f"{base}/{p['pid']}/stdin")
    assert_error(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == "POST"
    assert_error(daemon.post(f"{base}/{p['pid']}"), 405, "method_not_allowed")
    assert_error(daemon.get(f"{base}/{p['pid']}/output", headers={"Last-Event-ID": "x"}), 400, "bad_request",
                 "Last-Event-ID")
    assert post(daemon, sid, p["pid"], "signal", {"signal": "KILL"}).status_code == 200


def test_the_list_and_one_process(daemon, sid):
    a = start(daemon, sid, cmd=["sh", "-c", "echo hi"], env={"GREETING": "hello"}, cwd="/workspace", tag="t1")
    b = start(daemon, sid, shell="sleep 60")
    finished(daemon, sid, a["pid"])
    listed = daemon.get(f"/v1/sessions/{sid}/processes").json()["processes"]
    assert [p["pid"] for p in listed] == [a["pid"], b["pid"]]
    one = proc(daemon, sid, a["pid"])
    assert one == listed[0]
    assert one["cmd"] == ["sh", "-c", "echo hi"] and one["env"] == {"GREETING": "hello"} and one["tag"] == "t1"
    assert one["state"] == "exited" and one["result"]["exit_code"] == 0
    assert one["output"] == {"first_id": 1, "last_id": 2, "dropped_events": 0, "dropped_bytes": 0}
    assert listed[1]["cmd"] == ["/bin/sh", "-c", "sleep 60"] and listed[1]["result"] is None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", one["started"])
    assert post(daemon, sid, b["pid"], "signal", {"signal": "KILL"}).status_code == 200


def test_head_request_ids_and_the_access_log(daemon, sid):
    p = start(daemon, sid, cmd=["sleep", "60"])
    base = f"/v1/sessions/{sid}/processes"
    r = daemon.post(base, {"cmd": ["true"]}, headers={"X-Request-Id": "proc-start-1"})
    assert r.status_code == 201 and r.headers["X-Request-Id"] == "proc-start-1"
    assert r.headers["Location"] == f"{base}/{r.json()['pid']}"
    for path in (base, f"{base}/{p['pid']}", f"{base}/{p['pid']}/output"):
        h = daemon.http.head(daemon.url + path, timeout=CEILING)
        assert h.status_code == 200 and h.headers.get("X-Request-Id") and not h.content, path
    assert proc(daemon, sid, p["pid"])["followers"] == 0  # a HEAD follows nothing
    post(daemon, sid, p["pid"], "signal", {"signal": "KILL"}, headers={"X-Request-Id": "proc-kill-1"})
    assert wait_for(lambda: re.search(rf"request_id=proc-kill-1 .*path={re.escape(base)}/{p['pid']}/signal "
                                      rf"status=200 .*session_id={sid}", daemon.log()), CEILING), daemon.log()


# --- the session's end, and the daemon's caps ------------------------------------------


def test_deleting_the_session_ends_its_processes_and_their_followers(daemon):
    s = daemon.create()["id"]
    p = start(daemon, s, cmd=["sh", "-c", "echo up; sleep 300"])
    follow = Stream(daemon, s, p["pid"])
    follow.until("up")
    daemon.remove(s)
    rest = follow.events()
    assert rest[-1][1] == "exit" and rest[-1][2]["signal"] == 9, rest
    assert "deleted" in rest[-1][2]["error"]
    assert_error(daemon.get(f"/v1/sessions/{s}/processes"), 404, "not_found")


CAPS = """max_processes_per_session = 3
max_execs_per_session = 3
max_process_followers = 2
process_buffer = 64K
"""


def test_every_cap_answers_429_and_the_daemon_serves_on(start_daemon):
    d = start_daemon(config_extra=CAPS)
    s = d.create()["id"]
    base = f"/v1/sessions/{s}/processes"
    # processes kept per session: running ones are never pushed out
    running = [start(d, s, cmd=["sleep", "300"], stdin=True)["pid"] for _ in range(3)]
    assert_error(d.post(base, {"cmd": ["true"]}), 429, "capacity", "maximum of 3 processes")
    # running, they are commands: max_execs_per_session is reached
    assert_error(d.post(f"/v1/sessions/{s}/exec", {"cmd": ["true"]}), 429, "capacity", "maximum of 3 commands")
    other = d.create()["id"]
    assert d.exec(other, cmd=["echo", "others served"])["stdout"] == "others served\n"
    # an ended one without followers makes room for a new one
    assert post(d, s, running[0], "signal", {"signal": "KILL"}).status_code == 200
    finished(d, s, running[0])
    assert d.exec(s, cmd=["echo", "room"])["stdout"] == "room\n"
    new = start(d, s, cmd=["sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' a; echo; echo end"])["pid"]
    assert_error(d.get(f"{base}/{running[0]}"), 404, "not_found")
    # output kept per process: 64K of 3M, and the stream says what it dropped
    finished(d, s, new)
    info = proc(d, s, new)
    assert info["output"]["dropped_events"] > 0 and info["output"]["dropped_bytes"] > 2_800_000, info
    events = Stream(d, s, new).events()
    assert events[0][1] == "dropped" and events[0][2]["events"] == events[1][0] - 1, events[0]
    assert len(output_of(events)) <= 64 * 1024
    assert output_of(events).endswith("a\nend\n") and events[-1][1] == "exit"
    # followers per process
    held = [Stream(d, s, running[1]) for _ in range(2)]
    third = Stream(d, s, running[1])
    assert third.status == 429 and json.loads(third.resp.read())["error"]["code"] == "capacity"
    # stdin waiting for a reader that does not read
    chunk = {"data": "x" * 700_000}
    assert post(d, s, running[1], "stdin", chunk).status_code == 200
    assert_error(post(d, s, running[1], "stdin", chunk), 429, "capacity", "wait for the command to read")
    for h in held + [third]:
        h.close()
    assert d.get("/v1/health").status_code == 200
    assert d.exec(other, cmd=["echo", "others too"])["stdout"] == "others too\n"
    d.remove(other)
    d.remove(s)
