"""What an operator sees of warrend: request ids (X-Request-Id on every
response, and in every log line a request causes), the access log (text
and JSON), HEAD on every GET route, per-route metrics and pool gauges by
backend, Retry-After on 429 and 503, and the event ids of streamed execs.

Each test runs the real daemon ($WARREND) as root, as test_daemon_http.py.
"""

import http.client
import json
import os
import re
import shutil
import signal
import subprocess

import pytest
import requests

from daemon_fixture import assert_error, start_daemon, wait_for, warrend  # noqa: F401 (fixtures)

GENERATED = re.compile(r"[0-9a-f]{24}")


def access_lines(d, **fields):
    """The access-log lines (text format) whose key=value fields include these."""
    out = []
    for line in d.log().splitlines():
        if not line.startswith("warrend: access "):
            continue
        kv = dict(part.split("=", 1) for part in line[len("warrend: access "):].split(" ") if "=" in part)
        if all(kv.get(k) == str(v) for k, v in fields.items()):
            out.append(kv)
    return out


@pytest.fixture(scope="module")
def d(warrend, tmp_path_factory, nothing_left_behind):  # noqa: F811
    from daemon_fixture import Daemon, stop_and_check
    daemon = Daemon(warrend, str(tmp_path_factory.mktemp("warrend-obs")), ["-v"]).start()
    yield daemon
    stop_and_check(daemon)


def test_every_answer_has_a_request_id_and_one_access_line(d):
    r = d.get("/v1/health")
    rid = r.headers["X-Request-Id"]
    assert GENERATED.fullmatch(rid), rid
    lines = wait_for(lambda: access_lines(d, request_id=rid), 10)
    assert len(lines) == 1, d.log()
    line = lines[0]
    assert (line["token"], line["method"], line["path"], line["status"], line["session_id"]) == \
        ("fixture", "GET", "/v1/health", "200", "-"), line
    assert int(line["bytes"]) > 0 and float(line["duration_ms"]) >= 0 and line["time"].endswith("Z"), line
    assert d.token not in d.log(), "the access log must name the token, never show it"


def test_an_incoming_request_id_is_kept_and_a_malformed_one_replaced(d):
    r = d.get("/v1/health", headers={"X-Request-Id": "client-42.a:b_c"})
    assert r.headers["X-Request-Id"] == "client-42.a:b_c"
    for bad in ("has space", "x" * 65, 'quote"d', "new\u00e9"):
        r = d.get("/v1/health", headers={"X-Request-Id": bad.encode()})
        assert GENERATED.fullmatch(r.headers["X-Request-Id"]), (bad, r.headers["X-Request-Id"])
    r = d.get("/v1/health", headers={"X-Request-Id": "x" * 64})
    assert r.headers["X-Request-Id"] == "x" * 64


def test_errors_carry_the_request_id_and_name_the_session(d):
    for r in (d.get("/nowhere", headers={"X-Request-Id": "err-404"}),
              d.post("/v1/sessions", data=b"{", headers={"X-Request-Id": "err-400",
                                                          "Content-Type": "application/json"}),
              d.delete("/v1/sessions/nosuch", headers={"X-Request-Id": "err-404b"}),
              d.http.put(d.url + "/v1/health", headers={"X-Request-Id": "err-405"}, timeout=30)):
        assert r.status_code >= 400 and r.headers["X-Request-Id"].startswith("err-"), (r.status_code, r.headers)
    assert wait_for(lambda: access_lines(d, request_id="err-404b", status=404, session_id="nosuch"), 10), d.log()
    assert access_lines(d, request_id="err-405", status=405), d.log()


def test_the_gates_own_answers_carry_a_request_id_and_are_logged(d):
    r = requests.get(d.url + "/v1/health", headers={"Authorization": "Bearer " + "0" * 64}, timeout=30)
    assert r.status_code == 401
    rid = r.headers["X-Request-Id"]
    assert GENERATED.fullmatch(rid), r.headers
    assert wait_for(lambda: access_lines(d, request_id=rid, status=401, token="-"), 10), d.log()
    if not shutil.which("curl"):
        return
    out = subprocess.run(["curl", "-s", "-i", "--http2-prior-knowledge", "-H", "Authorization: Bearer " + "1" * 64,
                          d.url + "/v1/health"], capture_output=True, text=True, timeout=30).stdout
    assert out.startswith("HTTP/2 401") and re.search(r"^x-request-id: [0-9a-f]{24}\r?$", out, re.M), out


def test_streamed_replies_carry_the_request_id(d):
    sid = d.create()["id"]
    # a buffered reply too large to build whole goes out from a generator
    r = d.post(f"/v1/sessions/{sid}/exec", {"shell": "head -c 300000 /dev/zero | tr '\\0' a"},
               headers={"X-Request-Id": "big-reply"})
    assert r.status_code == 200 and len(r.json()["stdout"]) == 300000
    assert r.headers["X-Request-Id"] == "big-reply"
    r = d.post(f"/v1/sessions/{sid}/exec", {"shell": "echo a; echo b >&2; echo c", "stream": True},
               headers={"X-Request-Id": "sse-reply"}, stream=True)
    assert r.headers["X-Request-Id"] == "sse-reply"
    ids, names, out = [], [], {"stdout": "", "stderr": ""}
    for block in r.text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        ids.append(int(fields["id"]))
        names.append(fields["event"])
        if fields["event"] in out:
            out[fields["event"]] += json.loads(fields["data"])["data"]
    # one counter for both streams: 1, 2, 3 … however the output was cut
    assert ids == list(range(1, len(ids) + 1)) and names[-1] == "exit" and len(ids) >= 3, (ids, names)
    assert out == {"stdout": "a\nc\n", "stderr": "b\n"}, out
    d.remove(sid)


def test_the_log_lines_of_an_exec_and_of_a_sandbox_death_name_their_request(d):
    r = d.post("/v1/sessions", {}, headers={"X-Request-Id": "made-it"})
    sid = r.json()["id"]
    d.post(f"/v1/sessions/{sid}/exec", {"shell": "exit 3"}, headers={"X-Request-Id": "ran-it"})
    assert wait_for(lambda: re.search(rf"^warrend: exec \d+: exit 3 after \d+ ms \[request_id=ran-it "
                                      rf"session_id={sid}\]$", d.log(), re.M), 10), d.log()
    r = d.post(f"/v1/sessions/{sid}/exec", {"shell": "sleep 30", "timeout": "200ms"},
               headers={"X-Request-Id": "timed-it"})
    assert r.json()["timed_out"] is True
    assert re.search(rf"^warrend: exec \d+: signal 9 after \d+ ms, timed out \[request_id=timed-it "
                     rf"session_id={sid}\]$", d.log(), re.M), d.log()
    os.kill(d.init_pid(sid), signal.SIGKILL)
    assert wait_for(lambda: re.search(rf"^warrend: session {sid}: its sandbox ended: .* \[request_id=timed-it "
                                      rf"session_id={sid}\]$", d.log(), re.M), 10), d.log()
    d.remove(sid)


def test_head_answers_every_get_route_without_a_body(d):
    sid = d.create()["id"]
    d.http.put(d.url + f"/v1/sessions/{sid}/files/f.txt", data=b"hello", timeout=30)
    paths = ["/v1/health", "/health", "/metrics", "/v1/openapi.json", "/v1/images", "/v1/sessions",
             f"/v1/sessions/{sid}", f"/v1/sessions/{sid}/files", f"/v1/sessions/{sid}/files/f.txt",
             "/v1/sessions/nosuch"]
    for path in paths:
        get = d.get(path)
        head = d.http.head(d.url + path, timeout=30)
        assert head.status_code == get.status_code and head.content == b"", (path, head.status_code)
        assert head.headers.get("Content-Type") == get.headers.get("Content-Type"), path
        assert GENERATED.fullmatch(head.headers["X-Request-Id"]), path
    assert d.http.head(d.url + f"/v1/sessions/{sid}/files/f.txt", timeout=30).headers["Content-Length"] == "5"
    d.remove(sid)


def metric(text, name, **labels):
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    m = re.search(rf"^{re.escape(name)}{{{re.escape(want)}}} ([0-9.e+-]+)$", text, re.M)
    return float(m.group(1)) if m else None


def test_metrics_per_route_and_pools_by_backend(d):
    before = metric(d.get("/metrics").text, "warren_http_request_duration_seconds_count", route="GET /v1/health") or 0
    for _ in range(3):
        d.get("/v1/health")
    d.get("/no/such/route")
    text = d.get("/metrics").text
    assert metric(text, "warren_http_request_duration_seconds_count", route="GET /v1/health") >= before + 3, text
    assert metric(text, "warren_http_request_duration_seconds_bucket", route="GET /v1/health", le="+Inf") >= 3
    assert metric(text, "warren_http_errors_total", route="other") >= 1, text
    assert metric(text, "warren_http_errors_total", route="GET /v1/health") == 0, text
    assert metric(text, "warren_pool_ready", backend="native", image="host", policy="default", network="none") is not None, text
    assert metric(text, "warren_pool_target", backend="native", image="host", policy="default", network="none") == 2, text


def test_retry_after_on_429_and_503(start_daemon):  # noqa: F811
    d = start_daemon("--max-sessions", "1", config_extra="docker_socket = /nonexistent/docker.sock\n")
    sid = d.create()["id"]
    r = d.post("/v1/sessions", {})
    assert_error(r, 429, "capacity", "maximum of 1 sessions")
    assert r.headers["Retry-After"] == "1"
    d.remove(sid)
    r = d.post("/v1/sessions", {"backend": "docker"})
    assert_error(r, 503, "unavailable", "cannot run sandboxes now")
    assert r.headers["Retry-After"] == "1"
    assert "Retry-After" not in d.get("/v1/health").headers


def test_json_log_format_and_the_access_log_switch(start_daemon):  # noqa: F811
    d = start_daemon(config_extra="log_format = json\n")
    r = d.get("/v1/health", headers={"X-Request-Id": "json-1"})
    assert r.status_code == 200
    assert wait_for(lambda: '"json-1"' in d.log(), 10), d.log()
    entries = [json.loads(line) for line in d.log().splitlines() if line.strip()]
    access = [e for e in entries if e.get("request_id") == "json-1"]
    assert len(access) == 1 and access[0]["type"] == "access", entries
    assert (access[0]["token"], access[0]["method"], access[0]["path"], access[0]["status"]) == \
        ("fixture", "GET", "/v1/health", 200), access
    assert any(e.get("message", "").startswith("ready (") for e in entries), entries
    quiet = start_daemon(config_extra="access_log = false\n")
    quiet.get("/v1/health")
    quiet.get("/v1/health")
    assert "warrend: access " not in quiet.log(), quiet.log()


def test_refused_creations_leak_nothing(d):
    """An env parsed before a later field fails was lost (issue 11); under
    the sanitizer build LeakSanitizer fails the daemon's exit, which the
    fixture checks."""
    for _ in range(20):
        r = d.post("/v1/sessions", {"env": {"A": "1", "B": "2"}, "idle_timeout": "soon"})
        assert_error(r, 400, "bad_request", "idle_timeout")
        r = d.post("/v1/sessions", {"env": {"A": "1"}, "idle_timeout": "999h"})
        assert_error(r, 400, "bad_request", "may not exceed")
