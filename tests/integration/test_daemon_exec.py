"""POST /v1/sessions/{id}/exec, buffered and streamed: what the command gets
(argv, shell, stdin, env, cwd) and what the caller gets back (exit code or
signal, output as text or base64, truncation, timeout, OOM), and that a fault
in one exec harms neither the session nor the daemon."""

import base64
import http.client
import json
import time

import pytest
import requests

from daemon_fixture import assert_error, daemon, start_daemon, wait_for, warrend  # noqa: F401 (fixtures)
from warrentest import PS_ARGS

RESULT_FIELDS = {"exit_code", "signal", "stdout", "stderr", "duration_ms", "timed_out", "oom_killed", "truncated"}


@pytest.fixture(scope="module")
def sid(daemon):
    s = daemon.create()
    yield s["id"]
    daemon.remove(s["id"])


def assert_killed_with_its_session(status, body):
    """The answer warrend(8) promises to an exec whose session is deleted
    under it (DELETE, or the drain at SIGTERM): the command killed by
    SIGKILL, and the reason."""
    assert status == 200, (status, body)
    r = json.loads(body)
    assert (r["exit_code"], r["signal"], r["timed_out"], r["error"]) == (None, 9, False, "the session was deleted"), r


def procs_in_session(daemon, sid):
    """Command lines of the processes visible in the session."""
    r = daemon.exec(sid, cmd=PS_ARGS)
    assert r["exit_code"] == 0, r
    return r["stdout"]


# --- buffered exec ---------------------------------------------------------------------------


def test_cmd_runs_argv_without_a_shell(daemon, sid):
    r = daemon.exec(sid, cmd=["python3", "-c", "import sys; print(sys.argv[1:])", "a b", "$HOME", "*"])
    assert set(r) == RESULT_FIELDS, r
    assert r["stdout"] == "['a b', '$HOME', '*']\n" and r["stderr"] == ""
    assert (r["exit_code"], r["signal"], r["timed_out"], r["oom_killed"], r["truncated"]) == (0, None, False, False, False)
    assert isinstance(r["duration_ms"], int) and r["duration_ms"] >= 0


def test_shell_runs_a_pipeline(daemon, sid):
    r = daemon.exec(sid, shell="echo hi | wc -c; echo oops >&2")
    assert (r["exit_code"], r["stdout"], r["stderr"]) == (0, "3\n", "oops\n")


def test_exactly_one_of_cmd_and_shell(daemon, sid):
    assert_error(daemon.post(f"/v1/sessions/{sid}/exec", {}), 400, "bad_request")
    assert_error(daemon.post(f"/v1/sessions/{sid}/exec", {"cmd": ["true"], "shell": "true"}), 400, "bad_request")
    assert_error(daemon.post(f"/v1/sessions/{sid}/exec", {"cmd": []}), 400, "bad_request", "cmd")
    assert_error(daemon.post(f"/v1/sessions/{sid}/exec", {"cmd": "ls"}), 400, "bad_request", "cmd")
    assert_error(daemon.post(f"/v1/sessions/{sid}/exec", {"cmd": ["ls"], "bogus": 1}), 400, "bad_request", '"bogus"')
    assert_error(daemon.post(f"/v1/sessions/{sid}/exec", data=b"{", headers={"Content-Type": "application/json"}),
                 400, "bad_request")


@pytest.mark.parametrize("code", [0, 1, 42, 255])
def test_exit_code_is_the_commands(daemon, sid, code):
    r = daemon.exec(sid, shell=f"exit {code}")
    assert (r["exit_code"], r["signal"]) == (code, None)


@pytest.mark.backends("native", "oci", why="an engine reports a death by signal as exit 128+N (warrend.conf(5))")
def test_death_by_signal_reports_the_signal(daemon, sid):
    r = daemon.exec(sid, shell="kill -9 $$")
    assert (r["exit_code"], r["signal"]) == (None, 9), r


def test_stdin_text(daemon, sid):
    r = daemon.exec(sid, shell='read a; read b; echo "$b $a"', stdin="first\nsecond\n")
    assert r["stdout"] == "second first\n"


def test_stdin_base64_and_binary_output(daemon, sid):
    data = bytes(range(256)) * 4
    r = daemon.exec(sid, cmd=["cat"], stdin_base64=base64.b64encode(data).decode())
    assert r["stdout_encoding"] == "base64", r
    assert base64.b64decode(r["stdout"]) == data
    assert "stderr_encoding" not in r


def test_stdin_and_stdin_base64_together_are_400(daemon, sid):
    assert_error(daemon.post(f"/v1/sessions/{sid}/exec", {"cmd": ["cat"], "stdin": "a", "stdin_base64": "YQ=="}),
                 400, "bad_request")


def test_non_utf8_stderr_comes_base64(daemon, sid):
    r = daemon.exec(sid, shell=r"printf 'ok\n'; printf '\377\376 bad' >&2")
    assert r["stdout"] == "ok\n" and "stdout_encoding" not in r
    assert r["stderr_encoding"] == "base64"
    assert base64.b64decode(r["stderr"]) == b"\xff\xfe bad"


def test_env_and_cwd(daemon, sid):
    daemon.exec(sid, cmd=["mkdir", "-p", "/workspace/sub/dir"])
    r = daemon.exec(sid, shell='echo "$FOO"; pwd', env={"FOO": "bar baz"}, cwd="/workspace/sub/dir")
    assert (r["exit_code"], r["stdout"]) == (0, "bar baz\n/workspace/sub/dir\n"), r
    # The default working directory is the workspace.
    assert daemon.exec(sid, cmd=["pwd"])["stdout"] == "/workspace\n"


@pytest.mark.parametrize("cwd", ["/etc", "/workspace/../etc", "relative", "/workspace-other"])
def test_cwd_outside_the_workspace_is_400(daemon, sid, cwd):
    assert_error(daemon.post(f"/v1/sessions/{sid}/exec", {"cmd": ["pwd"], "cwd": cwd}), 400, "bad_request", "cwd")


def test_command_not_found_is_127_with_warrens_message(daemon, sid):
    r = daemon.exec(sid, cmd=["no-such-command-xyz"])
    assert r["exit_code"] == 127, r
    assert "warren: exec no-such-command-xyz: No such file or directory" in r["stderr"], r


def test_command_that_cannot_run_is_126(daemon, sid):
    daemon.exec(sid, shell="printf 'echo x' > /workspace/noexec.sh; chmod 644 /workspace/noexec.sh")
    r = daemon.exec(sid, cmd=["/workspace/noexec.sh"])
    assert r["exit_code"] == 126, r
    assert "warren: exec /workspace/noexec.sh" in r["stderr"], r


def test_output_flood_is_capped_and_truncated(daemon, sid):
    r = daemon.exec(sid, shell="head -c 50M /dev/zero", output="1M")
    assert r["truncated"] is True, {k: v for k, v in r.items() if k != "stdout"}
    out = base64.b64decode(r["stdout"]) if r.get("stdout_encoding") == "base64" else r["stdout"].encode()
    assert len(out) <= 1 << 20
    # The session and the daemon keep serving.
    assert daemon.exec(sid, cmd=["echo", "alive"])["stdout"] == "alive\n"
    assert daemon.get("/v1/health").json()["status"] == "ok"


def test_output_above_the_sessions_cap_is_400(daemon):
    s = daemon.create(limits={"output": "64K"})
    assert_error(daemon.post(f"/v1/sessions/{s['id']}/exec", {"cmd": ["true"], "output": "1M"}), 400,
                 "bad_request", "output")
    assert_error(daemon.post(f"/v1/sessions/{s['id']}/exec", {"cmd": ["true"], "timeout": "1h"}), 400,
                 "bad_request", "timeout")
    daemon.remove(s["id"])


def test_timeout_kills_what_the_exec_started_and_nothing_else(daemon):
    s = daemon.create()["id"]
    # exec 1 leaves a background process behind, as agents do.
    r = daemon.exec(s, shell="sleep 300 >/dev/null 2>&1 &")
    assert r["exit_code"] == 0, r
    # exec 2 times out, with a double-forked child that escaped its shell.
    start = time.monotonic()
    r = daemon.exec(s, shell="(setsid sleep 301 >/dev/null 2>&1 &); sleep 302", timeout="1s")
    assert r["timed_out"] is True and r["exit_code"] is None, r
    # A hang ceiling, not a speed: an exec that waited for its escaped process would take 301 s.
    assert time.monotonic() - start < 60
    # exec 3: the earlier background process lives, everything of exec 2 is gone
    # (on docker, all but what left the exec's process tree: warrend.conf(5)).
    escaped = "sleep 302" if daemon.backend == "docker" else "sleep 301"
    ps = wait_for(lambda: (lambda p: p if escaped not in p else None)(procs_in_session(daemon, s)), 3)
    assert ps, f"exec 2's processes survived its timeout: {procs_in_session(daemon, s)}"
    assert "sleep 302" not in ps, ps
    assert "sleep 300" in ps, f"the timeout of exec 2 killed exec 1's background process: {ps}"
    daemon.remove(s)


def test_orphans_are_reaped(daemon, sid):
    # Twenty commands orphan a child each; the sandbox's pid 1 must reap them,
    # or zombies pile up against the pids limit until the session ends.
    for _ in range(20):
        assert daemon.exec(sid, shell="sleep 0.05 & exit 0")["exit_code"] == 0
    count = "grep -l '^State:.*Z' /proc/[0-9]*/status 2>/dev/null | wc -l"
    assert wait_for(lambda: daemon.exec(sid, shell=count)["stdout"] == "0\n", 5), \
        daemon.exec(sid, shell="grep -H '^State' /proc/[0-9]*/status")["stdout"]


def test_oom_inside_a_session_is_reported_and_survived(daemon):
    s = daemon.create(limits={"memory": "64M"})["id"]
    r = daemon.exec(s, cmd=["python3", "-c", "b = bytearray(200 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096])"])
    assert r["oom_killed"] is True, r
    # The API's contract: killed by a signal is exit_code null and the signal, SIGKILL for an OOM
    # kill (on docker too: warrend.conf(5)).
    assert (r["exit_code"], r["signal"]) == (None, 9), r
    # The session still works after the OOM kill.
    assert daemon.exec(s, cmd=["echo", "ok"])["stdout"] == "ok\n"
    daemon.remove(s)


def test_execs_of_one_session_may_run_concurrently(daemon, sid):
    """Four execs wait for each other (a barrier of files in /tmp): run one
    after the other, the first would wait until its timeout."""
    import concurrent.futures
    barrier = ("mkdir -p /tmp/barrier; touch /tmp/barrier/{i}; "
               "until [ $(ls /tmp/barrier | wc -l) -ge 4 ]; do sleep 0.05; done; echo {i}")
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: exec_on_own_connection(daemon, sid, shell=barrier.format(i=i),
                                                                 timeout="30s"), range(4)))
    assert [(r["stdout"], r["timed_out"]) for r in results] == [(f"{i}\n", False) for i in range(4)], \
        "execs of one session ran one after the other"
    daemon.exec(sid, shell="rm -r /tmp/barrier")


def exec_on_own_connection(daemon, sid, **body):
    """A buffered exec on a connection of its own (for threads: a requests
    session is not thread-safe), with the fixture's headers."""
    r = requests.post(f"{daemon.url}/v1/sessions/{sid}/exec", json=body, headers=dict(daemon.http.headers),
                      timeout=120)
    assert r.status_code == 200, (r.status_code, r.text)
    return r.json()


# --- streaming -------------------------------------------------------------------------------------


def open_stream(daemon, sid, body):
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=30)
    conn.request("POST", f"/v1/sessions/{sid}/exec", body=json.dumps(dict(body, stream=True)),
                 headers={"Content-Type": "application/json", **daemon.auth})
    resp = conn.getresponse()
    return conn, resp


def events(resp):
    """Yields (event, data) from a text/event-stream response as they arrive."""
    name, data = None, []
    while True:
        line = resp.readline()
        if not line:
            return
        line = line.decode().rstrip("\n")
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif line == "" and name:
            yield name, json.loads("\n".join(data))
            name, data = None, []


def test_stream_delivers_stdout_stderr_and_exit_in_order(daemon, sid):
    conn, resp = open_stream(daemon, sid, {"shell": "echo one; sleep 0.2; echo two >&2; sleep 0.2; echo three; exit 3"})
    assert resp.status == 200
    assert resp.getheader("Content-Type").startswith("text/event-stream")
    got = list(events(resp))
    conn.close()
    assert [(n, d.get("data")) for n, d in got[:-1]] == [("stdout", "one\n"), ("stderr", "two\n"),
                                                          ("stdout", "three\n")], got
    name, exit_ = got[-1]
    assert name == "exit", got
    assert exit_["exit_code"] == 3 and exit_["signal"] is None and exit_["timed_out"] is False, exit_
    assert "stdout" not in exit_ and "stderr" not in exit_


def test_stream_binary_output_comes_as_data_base64(daemon, sid):
    conn, resp = open_stream(daemon, sid, {"shell": r"printf '\377\000\001'"})
    got = list(events(resp))
    conn.close()
    out = b"".join(base64.b64decode(d["data_base64"]) if "data_base64" in d else d["data"].encode()
                   for n, d in got if n == "stdout")
    assert out == b"\xff\x00\x01", got
    assert got[-1][0] == "exit"


def test_stream_first_event_arrives_before_the_command_ends(daemon, sid):
    """The command prints, then waits until the test has read that line (a
    gate file the test creates): output held back until the end would
    never come (the read fails at the connection's 30 s timeout)."""
    gate = "/tmp/gate-first-event"
    conn, resp = open_stream(daemon, sid, {"shell": f"echo early; until [ -e {gate} ]; do sleep 0.05; done; "
                                                    f"rm {gate}; echo late", "timeout": "60s"})
    it = events(resp)
    first = next(it)
    assert first == ("stdout", {"data": "early\n"}), first
    daemon.exec(sid, shell=f"touch {gate}")
    rest = list(it)
    conn.close()
    assert rest[0] == ("stdout", {"data": "late\n"}), rest
    assert rest[-1][0] == "exit" and rest[-1][1]["exit_code"] == 0, rest


def disconnect_mid_stream(daemon, shell, marker):
    """Starts a streamed exec, reads its first event and goes away; asserts
    that the exec's process (its command line holds marker) is killed."""
    s = daemon.create()["id"]
    conn, resp = open_stream(daemon, s, {"shell": shell})
    assert next(events(resp)) == ("stdout", {"data": "started\n"})
    conn.sock.shutdown(2)
    conn.close()
    gone = wait_for(lambda: marker not in procs_in_session(daemon, s), 5, interval=0.2)
    assert gone, f"the exec of a client that went away still runs: {procs_in_session(daemon, s)}"
    assert wait_for(lambda: daemon.get(f"/v1/sessions/{s}").json()["execs_running"] == 0, 2)
    daemon.remove(s)


def test_stream_client_disconnect_kills_a_talking_exec(daemon):
    disconnect_mid_stream(daemon, "echo started; while sleep 0.1; do echo tick 304; done", "tick 304")


def test_stream_client_disconnect_kills_a_silent_exec(daemon):
    # No output after the disconnect: the daemon must notice the closed
    # connection without a failed write.
    disconnect_mid_stream(daemon, "echo started; exec sleep 303", "sleep 303")


def test_stream_timeout_reports_timed_out(daemon, sid):
    conn, resp = open_stream(daemon, sid, {"shell": "echo x; sleep 30", "timeout": "1s"})
    got = list(events(resp))
    conn.close()
    assert got[0] == ("stdout", {"data": "x\n"})
    assert got[-1][0] == "exit" and got[-1][1]["timed_out"] is True, got
