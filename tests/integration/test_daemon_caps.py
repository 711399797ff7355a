"""The daemon's caps on what one client may hold (audit items 4 and 7):
one-shot runs (POST /v1/run, the one-shot /execute) and sessions waiting for
a cold sandbox count against max_sessions and max_sessions_per_token;
commands running at once are capped per session and per token. Past a cap
the answer is 429 with the JSON error of session creation, and nothing runs.

Requests that must stay in flight go on connections of their own that the
test closes when it is done with them (the daemon then kills what they
started); every wait is on a condition the daemon reports."""

import http.client
import json
import re
import select
import socket
from concurrent.futures import ThreadPoolExecutor

import requests

from daemon_fixture import assert_error, start_daemon, wait_for, warrend  # noqa: F401 (fixtures)

SLOW = {"cmd": ["sleep", "60"]}  # held until the test closes its connection


class Held:
    """A request on its own connection, sent with the fixture's headers (its
    token, where the daemon wants one); its reply is read only when asked.
    rcvbuf: a small receive buffer, so that a client that does not read
    pushes back on the daemon at once."""

    def __init__(self, d, method, path, body, rcvbuf=None):
        self.conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=60)
        if rcvbuf:
            self.conn.sock = socket.socket()
            self.conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.conn.sock.settimeout(60)
            self.conn.sock.connect(("127.0.0.1", d.port))
        headers = dict(d.http.headers)
        headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=json.dumps(body), headers=headers)

    def answered(self, timeout=0):
        return bool(select.select([self.conn.sock], [], [], timeout)[0])

    def reply(self):
        resp = self.conn.getresponse()
        return resp.status, json.loads(resp.read())

    def close(self):
        try:
            self.conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.conn.close()


def client(d):
    """A requests session of its own (one per thread) that authenticates as the fixture's does."""
    s = requests.Session()
    s.headers.update(d.http.headers)
    s.auth = d.http.auth
    return s


def post_many(d, path, body, n):
    """n concurrent POSTs; returns the replies."""
    def one(_):
        with client(d) as s:
            return s.post(d.url + path, json=body, timeout=60)
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def metric(d, name):
    text = d.get("/metrics").text
    return int(re.search(rf"^{name} (\d+)$", text, re.M).group(1))


def health(d):
    return d.get("/v1/health").json()


def execs_running(d, sid):
    return d.get(f"/v1/sessions/{sid}").json()["execs_running"]


def close_all(held):
    for h in held:
        h.close()


# --- item 4: one-shot runs hold sessions ------------------------------------------------


def test_runs_are_refused_when_sessions_fill_the_token_cap(start_daemon):
    # The audit's reproduction: the token's sessions are all taken, then a
    # burst of one-shot runs. Each must be a 429 that ran nothing.
    d = start_daemon(config_extra="max_sessions_per_token = 3\n")
    sessions = [d.create()["id"] for _ in range(3)]
    execs_before = metric(d, "warren_exec_total")
    for r in post_many(d, "/v1/run", {"cmd": ["sleep", "1"]}, 12):
        assert_error(r, 429, "capacity", "this token holds its maximum of 3 sessions")
    assert_error(d.post("/execute", {"code": "print(1)"}), 429, "capacity", "maximum of 3 sessions")
    assert metric(d, "warren_exec_total") == execs_before, "a refused run ran its command"
    assert health(d)["runs_active"] == 0
    d.remove(sessions[0])
    r = d.post("/v1/run", {"cmd": ["echo", "room again"]})
    assert r.status_code == 200 and r.json()["stdout"] == "room again\n", r.text
    for sid in sessions[1:]:
        d.remove(sid)


def test_a_run_holds_its_slot_until_it_ends(start_daemon):
    # An empty pool: every run waits for a cold sandbox first, and must be
    # counted from the moment it is admitted.
    d = start_daemon("--pool-size", "0", config_extra="max_sessions_per_token = 3\n")
    execs_before = metric(d, "warren_exec_total")
    held = [Held(d, "POST", "/v1/run", SLOW) for _ in range(8)]
    try:
        assert wait_for(lambda: health(d)["runs_active"] == 3, 30), health(d)
        # the five refused ones answer; the three admitted ones run on
        assert wait_for(lambda: sum(h.answered() for h in held) == 5, 30)
        refused = [h for h in held if h.answered()]
        for h in refused:
            status, doc = h.reply()
            assert status == 429 and doc["error"]["code"] == "capacity", (status, doc)
        assert metric(d, "warren_runs_active") == 3
        assert_error(d.post("/v1/sessions", {}), 429, "capacity", "this token holds its maximum of 3 sessions")
        assert_error(d.post("/v1/run", {"cmd": ["true"]}), 429, "capacity")
        assert_error(d.post("/execute", {"code": "print(1)"}), 429, "capacity")
    finally:
        close_all(held)
    # the clients left: their runs end and give their slots back
    assert wait_for(lambda: health(d)["runs_active"] == 0, 30), health(d)
    assert metric(d, "warren_exec_total") == execs_before + 3, "a refused run ran its command"
    sid = d.create()["id"]
    d.remove(sid)


def test_sessions_waiting_for_a_cold_sandbox_count(start_daemon):
    # With no warm sandbox every creation waits for one; a burst of them
    # must not overshoot the cap while they wait.
    d = start_daemon("--pool-size", "0", config_extra="max_sessions_per_token = 2\n")
    replies = post_many(d, "/v1/sessions", {}, 8)
    created = [r.json()["id"] for r in replies if r.status_code == 201]
    refused = [r for r in replies if r.status_code != 201]
    assert len(created) == 2, [(r.status_code, r.text) for r in replies]
    for r in refused:
        assert_error(r, 429, "capacity", "this token holds its maximum of 2 sessions")
    for sid in created:
        d.remove(sid)


def test_the_daemon_wide_cap_counts_runs(start_daemon):
    d = start_daemon("--max-sessions", "2")
    sid = d.create()["id"]
    run = Held(d, "POST", "/v1/run", SLOW)
    try:
        assert wait_for(lambda: health(d)["runs_active"] == 1, 30), health(d)
        assert_error(d.post("/v1/sessions", {}), 429, "capacity", "the daemon holds its maximum of 2 sessions")
        assert_error(d.post("/v1/run", {"cmd": ["true"]}), 429, "capacity", "maximum of 2 sessions")
        assert not run.answered()
    finally:
        run.close()
    assert wait_for(lambda: health(d)["runs_active"] == 0, 30), health(d)
    assert d.post("/v1/run", {"cmd": ["true"]}).status_code == 200
    d.remove(sid)


# --- item 7: commands at once, per session and per token -----------------------------------


def test_commands_per_session_are_capped(start_daemon):
    d = start_daemon(config_extra="max_execs_per_session = 2\n")
    sid, other = d.create()["id"], d.create()["id"]
    held = [Held(d, "POST", f"/v1/sessions/{sid}/exec", {"cmd": ["sleep", "60"]}),
            Held(d, "POST", f"/v1/sessions/{sid}/exec", {"cmd": ["sleep", "60"], "stream": True})]
    try:
        assert wait_for(lambda: execs_running(d, sid) == 2, 30)
        for body in ({"cmd": ["true"]}, {"cmd": ["true"], "stream": True}):
            assert_error(d.post(f"/v1/sessions/{sid}/exec", body), 429, "capacity",
                         f"session {sid} runs its maximum of 2 commands at once")
        assert_error(d.post("/execute", {"session_id": sid, "command": "true"}), 429, "capacity")
        # another session of the same token is not held back
        assert d.exec(other, cmd=["echo", "free"])["stdout"] == "free\n"
    finally:
        close_all(held)
    assert wait_for(lambda: execs_running(d, sid) == 0, 30)
    assert d.exec(sid, cmd=["true"])["exit_code"] == 0
    d.remove(sid)
    d.remove(other)


def test_commands_per_token_are_capped(start_daemon):
    d = start_daemon(config_extra="max_execs_per_token = 3\n")
    a, b = d.create()["id"], d.create()["id"]
    held = [Held(d, "POST", f"/v1/sessions/{a}/exec", SLOW), Held(d, "POST", f"/v1/sessions/{a}/exec", SLOW),
            Held(d, "POST", f"/v1/sessions/{b}/exec", dict(SLOW, stream=True))]
    try:
        assert wait_for(lambda: execs_running(d, a) + execs_running(d, b) == 3, 30)
        for sid in (a, b):
            assert_error(d.post(f"/v1/sessions/{sid}/exec", {"cmd": ["true"]}), 429, "capacity",
                         "this token runs its maximum of 3 commands at once")
    finally:
        close_all(held)
    assert wait_for(lambda: execs_running(d, a) + execs_running(d, b) == 0, 30)
    assert d.exec(b, cmd=["true"])["exit_code"] == 0
    d.remove(a)
    d.remove(b)
