"""MCP: warrend's /mcp endpoint (Streamable HTTP) and `warren mcp` (stdio).

The official client drives both: the npm package @modelcontextprotocol/sdk,
pinned, installed by these tests into a cache directory that later runs
reuse ($WARREN_NPM_CACHE, default /var/cache/warren-test/npm); its Client
lists the tools, creates a sandbox, writes, runs, reads, lists, runs code,
meets a tool error, kills, and ends the session, over
StreamableHTTPClientTransport and over StdioClientTransport with
`warren mcp`. Without node/npm or the npm registry the SDK tests are
skipped with the reason, and fail under WARREN_MUST_RUN=1.

The protocol's rules (session ids, protocol versions, notifications, GET,
DELETE, malformed JSON-RPC, batches, unknown tools) and each tool's edges
are checked from Python with plain HTTP.
"""

import base64
import http.client
import json
import os
import signal
import subprocess
import threading
import time

import pytest
import requests

import npm_cache
from daemon_fixture import daemon, start_daemon, wait_for, warrend  # noqa: F401 (fixtures)
from warrentest import PS_ARGS

HERE = os.path.dirname(os.path.abspath(__file__))
SDK_VERSION = "1.32.2"
LATEST = "2025-11-25"
ACCEPT = "application/json, text/event-stream"

NATIVE_ONLY = dict(why="the MCP front end is the same on every backend; its tools' backend differences "
                       "are covered by test_files_tools_on_every_backend")


# --- the SDK, installed once into the cache ---------------------------------------------


@pytest.fixture(scope="session")
def mcp_sdk():
    """The directory holding node_modules/@modelcontextprotocol/sdk at the pinned version."""
    return npm_cache.install("MCP SDK", f"mcp-sdk-{SDK_VERSION}", [f"@modelcontextprotocol/sdk@{SDK_VERSION}"])


def node(sdk, script, *args, timeout=240):
    """Runs tests/integration/mcp/SCRIPT; returns the JSON summary it prints last."""
    r = subprocess.run(["node", os.path.join(HERE, "mcp", script), *args], capture_output=True, text=True,
                       timeout=timeout, env={**os.environ, "MCP_SDK_DIR": sdk})
    assert r.returncode == 0, f"node {script} exited {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    return json.loads(r.stdout.strip().splitlines()[-1])


# --- plain HTTP ------------------------------------------------------------------------------


class Mcp:
    """One MCP session over plain HTTP, for the protocol's edges."""

    def __init__(self, d, headers=None, version=LATEST):
        self.d = d
        self.headers = {"Accept": ACCEPT, **(headers or {})}
        self.next_id = 0
        r = self.post({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                       "params": {"protocolVersion": version, "capabilities": {},
                                  "clientInfo": {"name": "pytest", "version": "1"}}}, session=False)
        assert r.status_code == 200, r.text
        self.init = r.json()["result"]
        self.sid = r.headers["Mcp-Session-Id"]
        self.version = self.init["protocolVersion"]

    def post(self, body, session=True, headers=None, **kw):
        h = dict(self.headers)
        if session:
            h.update({"Mcp-Session-Id": self.sid, "MCP-Protocol-Version": self.version})
        h.update(headers or {})
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        return self.d.post("/mcp", data=data, headers={"Content-Type": "application/json", **h}, **kw)

    def request(self, method, params=None, **kw):
        self.next_id += 1
        body = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            body["params"] = params
        return self.post(body, **kw)

    def call(self, name, **arguments):
        """tools/call; returns the tool result (isError or not)."""
        r = self.request("tools/call", {"name": name, "arguments": arguments})
        assert r.status_code == 200, r.text
        doc = r.json()
        assert "result" in doc, doc
        result = doc["result"]
        assert result["content"][0]["type"] == "text", result
        return result

    def ok(self, name, **arguments):
        result = self.call(name, **arguments)
        assert result["isError"] is False, result
        return result["structuredContent"]

    def error(self, name, *in_message, **arguments):
        result = self.call(name, **arguments)
        assert result["isError"] is True and "structuredContent" not in result, result
        for s in in_message:
            assert s in result["content"][0]["text"], result
        return result["content"][0]["text"]

    def delete(self):
        return self.d.delete("/mcp", headers={**self.headers, "Mcp-Session-Id": self.sid})


def rpc_error(r, status, code, *in_message):
    assert r.status_code == status, (r.status_code, r.text)
    doc = r.json()
    assert doc["jsonrpc"] == "2.0" and "result" not in doc, doc
    assert doc["error"]["code"] == code, doc
    for s in in_message:
        assert s in doc["error"]["message"], doc
    return doc


def sessions_of(d, headers=None):
    r = d.get("/v1/sessions", headers=headers)
    assert r.status_code == 200, r.text
    return [s["id"] for s in r.json()["sessions"]]


# --- the official client ---------------------------------------------------------------------


@pytest.mark.backends("native", **NATIVE_ONLY)
def test_sdk_client_over_streamable_http(daemon, mcp_sdk):
    """The SDK's Client and StreamableHTTPClientTransport, with the token:
    the whole flow (mcp/flow.mjs), then terminateSession; afterwards the
    session's own sandbox is gone (and the created one, killed)."""
    before = sessions_of(daemon)
    summary = node(mcp_sdk, "http.mjs", daemon.url, daemon.token)
    assert summary["own"] != summary["created"]
    assert wait_for(lambda: sessions_of(daemon) == before, 10), sessions_of(daemon)


@pytest.mark.backends("native", **NATIVE_ONLY)
def test_sdk_client_over_stdio_with_warren_mcp(daemon, mcp_sdk, warren):
    """The SDK's StdioClientTransport starting `warren mcp` as a desktop
    agent does, with WARREN_URL and WARREN_TOKEN in its env: the same flow;
    closing the client (stdin) ends the MCP session and its sandbox."""
    before = sessions_of(daemon)
    summary = node(mcp_sdk, "stdio.mjs", warren, daemon.url, daemon.token)
    assert summary["own"] != summary["created"]
    assert wait_for(lambda: sessions_of(daemon) == before, 10), sessions_of(daemon)


# --- the protocol ------------------------------------------------------------------------------


@pytest.mark.backends("native", **NATIVE_ONLY)
def test_initialize_negotiates_and_answers_a_session_id(daemon):
    m = Mcp(daemon, version="2025-06-18")
    assert m.version == "2025-06-18"  # a supported version is answered as asked
    assert len(m.sid) == 32 and int(m.sid, 16) >= 0
    assert m.init["capabilities"] == {"tools": {"listChanged": False}}
    assert m.init["serverInfo"]["name"] == "warrend"
    assert "sandbox" in m.init["instructions"]
    for asked in ("2024-11-05", "2099-01-01"):  # otherwise the newest
        assert Mcp(daemon, version=asked).version == LATEST
    assert m.request("ping").json() == {"jsonrpc": "2.0", "id": 1, "result": {}}
    assert m.delete().status_code == 204


@pytest.mark.backends("native", **NATIVE_ONLY)
def test_later_requests_need_a_known_session_of_their_token(daemon):
    m = Mcp(daemon)
    rpc_error(m.request("ping", session=False), 400, -32000, "Mcp-Session-Id")
    rpc_error(m.request("ping", headers={"Mcp-Session-Id": "0" * 32}), 404, -32001, "initialize a new one")
    rpc_error(m.request("ping", headers={"Mcp-Session-Id": "x" * 300}), 404, -32001)
    # another token cannot use it: 404, as if unknown
    other = daemon.add_token("mcp-other")
    rpc_error(m.request("ping", headers=other), 404, -32001)
    # the protocol version header: absent is fine, another one is not
    assert m.request("ping", headers={"MCP-Protocol-Version": None}).status_code == 200
    rpc_error(m.request("ping", headers={"MCP-Protocol-Version": "2024-11-05"}), 400, -32000, "negotiated (2025-11-25)")
    rpc_error(m.request("ping", headers={"MCP-Protocol-Version": "2025-06-18"}), 400, -32000, "2025-06-18")
    assert m.delete().status_code == 204


@pytest.mark.backends("native", **NATIVE_ONLY)
def test_notifications_and_responses_get_202_without_a_body(daemon):
    m = Mcp(daemon)
    for body in ({"jsonrpc": "2.0", "method": "notifications/initialized"},
                 {"jsonrpc": "2.0", "method": "notifications/whatever", "params": {}},
                 {"jsonrpc": "2.0", "id": 7, "result": {}}):
        r = m.post(body)
        assert r.status_code == 202 and r.content == b"", (body, r.status_code, r.text)
    # without a session, a notification is refused like a request
    rpc_error(m.post({"jsonrpc": "2.0", "method": "notifications/initialized"}, session=False), 400, -32000)
    assert m.delete().status_code == 204


@pytest.mark.backends("native", **NATIVE_ONLY)
def test_get_is_405_and_delete_ends_the_session_and_its_sandbox(daemon):
    m = Mcp(daemon)
    r = daemon.get("/mcp", headers={"Accept": "text/event-stream", "Mcp-Session-Id": m.sid})
    assert r.status_code == 405 and "POST" in r.headers["Allow"], (r.status_code, r.headers)
    before = sessions_of(daemon)
    assert m.ok("run_command", command="true")["exit_code"] == 0  # its own sandbox, made now
    own = set(sessions_of(daemon)) - set(before)
    assert len(own) == 1, own
    r = m.delete()
    assert r.status_code == 204 and r.content == b"", r.text
    assert sessions_of(daemon) == before
    rpc_error(m.request("ping"), 404, -32001)
    rpc_error(m.delete(), 404, -32001)
    rpc_error(daemon.delete("/mcp"), 400, -32000, "Mcp-Session-Id")


@pytest.mark.backends("native", **NATIVE_ONLY)
def test_malformed_json_rpc_is_refused_clearly(daemon):
    m = Mcp(daemon)
    rpc_error(m.post('{"jsonrpc": "2.0", "id": 1, "method": '), 400, -32700, "Parse error")
    rpc_error(m.post(b'{"jsonrpc":"2.0","id":1,"method":"ping"}\x00'), 400, -32700, "NUL")
    rpc_error(m.post('{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}'), 400, -32700, "duplicate")
    # batches left the protocol in 2025-06-18 (neither revision served allows them)
    rpc_error(m.post([{"jsonrpc": "2.0", "id": 1, "method": "ping"}]), 400, -32600, "batches")
    for body, why in [({"id": 1, "method": "ping"}, '"jsonrpc" must be "2.0"'),
                      ({"jsonrpc": "1.0", "id": 1, "method": "ping"}, '"jsonrpc" must be "2.0"'),
                      ({"jsonrpc": "2.0", "id": None, "method": "ping"}, '"id" must be'),
                      ({"jsonrpc": "2.0", "id": [1], "method": "ping"}, '"id" must be'),
                      ({"jsonrpc": "2.0", "id": 1, "method": 5}, '"method" must be a string'),
                      ({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": [1]}, '"params" must be an object'),
                      ({"jsonrpc": "2.0", "id": 1}, "a request, a notification or a response"),
                      ("42", "an object")]:
        rpc_error(m.post(body), 400, -32600, why)
    r = m.post({"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers={"Content-Type": "text/plain"})
    rpc_error(r, 415, -32000, "application/json")
    r = m.post({"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers={"Accept": "text/html"})
    rpc_error(r, 406, -32000, "Accept")
    # the daemon kept serving
    assert m.request("ping").status_code == 200
    assert m.delete().status_code == 204


@pytest.mark.backends("native", **NATIVE_ONLY)
def test_unknown_tools_and_methods_are_json_rpc_errors(daemon):
    m = Mcp(daemon)
    doc = rpc_error(m.request("tools/call", {"name": "format_disk", "arguments": {}}), 200, -32602, "Unknown tool")
    assert doc["id"] == 1
    rpc_error(m.request("tools/call", {"arguments": {}}), 200, -32602, "params.name")
    rpc_error(m.request("tools/call", {"name": "sandbox_list", "arguments": [1]}), 200, -32602, "params.arguments")
    rpc_error(m.request("resources/list"), 200, -32601, "resources/list")
    # a newer client's discovery, before any session: an error sends it to initialize
    r = m.post({"jsonrpc": "2.0", "id": "d", "method": "server/discover", "params": {}}, session=False)
    assert rpc_error(r, 200, -32601, "initialize")["id"] == "d"
    assert m.delete().status_code == 204


@pytest.mark.backends("native", **NATIVE_ONLY)
def test_bad_arguments_are_tool_errors_the_model_can_read(daemon):
    """Arguments are checked against each tool's inputSchema; a mistake is a
    result with isError (the model corrects itself), not a protocol error."""
    m = Mcp(daemon)
    m.error("run_command", "command: required")
    m.error("run_command", "command: expected a string", command=["ls"])
    m.error("run_command", "timeout_s: expected an integer", command="true", timeout_s="5")
    m.error("run_command", "timeout_s: at least 1", command="true", timeout_s=0)
    m.error("run_command", "bogus: unknown argument", command="true", bogus=1)
    m.error("run_command", "env.X: expected a string", command="true", env={"X": 1})
    m.error("run_command", "env: no NUL bytes", command="true", env={"A=B": "c"})
    m.error("run_command", "command: no NUL", command="echo a\x00b")
    m.error("run_code", "language: expected one of python, javascript, bash", code="1", language="ruby")
    m.error("sandbox_kill", "sandbox_id: required")
    m.error("run_command", 'no sandbox "nope"', sandbox_id="nope", command="true")
    assert m.delete().status_code == 204


def test_mcp_sessions_are_capped_per_token(start_daemon):
    d = start_daemon(config_extra="max_mcp_sessions_per_token = 2\n")
    first, second = Mcp(d), Mcp(d)
    r = d.post("/mcp", json={"jsonrpc": "2.0", "id": 0, "method": "initialize",
                             "params": {"protocolVersion": LATEST, "capabilities": {},
                                        "clientInfo": {"name": "pytest", "version": "1"}}},
               headers={"Accept": ACCEPT})
    rpc_error(r, 429, -32000, "max_mcp_sessions_per_token")
    assert Mcp(d, headers=d.add_token("mcp-other")).delete().status_code == 204  # another token's room
    assert first.delete().status_code == 204
    third = Mcp(d)
    for m in (second, third):
        assert m.delete().status_code == 204


def test_an_unused_mcp_session_expires_with_its_sandbox(start_daemon):
    d = start_daemon(config_extra="mcp_session_timeout = 2s\n")
    m = Mcp(d)
    assert m.ok("write_file", path="a.txt", content="x")["size"] == 1
    assert len(sessions_of(d)) == 1
    assert wait_for(lambda: not sessions_of(d), 30), "the expired MCP session's sandbox is still there"
    rpc_error(m.request("ping"), 404, -32001)


@pytest.mark.backends("native", **NATIVE_ONLY)
def test_an_mcp_session_with_its_sandbox_outlives_a_restart(start_daemon):
    """warrend killed -9 and started again: an MCP session that had its
    own sandbox goes on with the same Mcp-Session-Id and the same sandbox
    (its files there); one that never made a sandbox is gone (404: its
    client initializes again, as the protocol says)."""
    old = start_daemon()
    m = Mcp(old)
    assert m.ok("write_file", path="kept.txt", content="before")["size"] == 6
    own = [s["sandbox_id"] for s in m.ok("sandbox_list")["sandboxes"] if s["own"]]
    bare = Mcp(old)
    old.kill()
    new = start_daemon(workdir=old.workdir)
    m.d = bare.d = new
    assert m.ok("read_file", path="kept.txt")["content"] == "before"
    assert [s["sandbox_id"] for s in m.ok("sandbox_list")["sandboxes"] if s["own"]] == own
    rpc_error(bare.request("ping"), 404, -32001)
    # its end still ends its sandbox
    assert m.delete().status_code == 204
    assert wait_for(lambda: not sessions_of(new), 30), sessions_of(new)


def tokenless_initialize(d, headers=None):
    """initialize over the unix socket (no token: the owner "local"):
    (status, body, Mcp-Session-Id)."""
    from daemon_fixture import UnixConnection
    body = json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                       "params": {"protocolVersion": LATEST, "capabilities": {},
                                  "clientInfo": {"name": "pytest", "version": "1"}}})
    conn = UnixConnection(d.sock)
    try:
        conn.request("POST", "/mcp", body=body, headers={"Content-Type": "application/json", **(headers or {})})
        resp = conn.getresponse()
        return resp.status, resp.read(), resp.getheader("Mcp-Session-Id")
    finally:
        conn.close()


@pytest.mark.backends("native", **NATIVE_ONLY)
def test_openapi_describes_the_mcp_endpoint(daemon):
    doc = daemon.get("/v1/openapi.json").json()
    assert set(doc["paths"]["/mcp"]) == {"post", "delete"}
    assert {"200", "202", "400", "404"} <= set(doc["paths"]["/mcp"]["post"]["responses"])


@pytest.mark.backends("native", **NATIVE_ONLY)
def test_tokenless_requests_from_web_pages_are_refused(daemon):
    """On the unix socket (tokenless), an Origin other than allowed_origins
    is refused as for every route: a web page cannot drive sandboxes."""
    status, body, sid = tokenless_initialize(daemon, {"Origin": "http://evil.example"})
    assert status == 403 and b"allowed_origins" in body and sid is None, (status, body)
    status, body, sid = tokenless_initialize(daemon)
    assert status == 200 and json.loads(body)["result"]["protocolVersion"] == LATEST, body
    # a session of the owner "local" is not the token's
    rpc_error(daemon.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                          headers={"Mcp-Session-Id": sid}), 404, -32001)
    assert daemon.unix_request("DELETE", "/mcp", None, {"Mcp-Session-Id": sid})[0] == 204


# --- the tools ----------------------------------------------------------------------------------


@pytest.mark.backends("native", **NATIVE_ONLY)
def test_sandbox_tools_create_list_set_timeout_kill(daemon):
    m = Mcp(daemon)
    made = m.ok("sandbox_create", timeout_s=600, image="host")
    sid = made["sandbox_id"]
    assert made["image"] == "host" and made["policy"] == "default"
    assert sid in sessions_of(daemon)  # a session of the core: the v1 API sees it
    expires = time.mktime(time.strptime(made["expires_at"], "%Y-%m-%dT%H:%M:%SZ"))
    now = time.mktime(time.gmtime())
    assert now + 500 < expires <= now + 600, made
    later = m.ok("sandbox_set_timeout", sandbox_id=sid, timeout_s=30)
    expires = time.mktime(time.strptime(later["expires_at"], "%Y-%m-%dT%H:%M:%SZ"))
    assert now < expires <= now + 60, later
    r = daemon.get(f"/v1/sessions/{sid}").json()
    assert r["max_lifetime_s"] <= 60, r  # the core's view of it moved
    m.error("sandbox_set_timeout", "max_lifetime", sandbox_id=sid, timeout_s=10 ** 9)
    m.error("sandbox_create", "timeout_s: at most", timeout_s=10 ** 9)
    m.error("sandbox_create", "image", image="no-such-image")
    listed = m.ok("sandbox_list")["sandboxes"]
    assert [(s["sandbox_id"], s["own"], s["state"]) for s in listed] == [(sid, False, "ready")]
    assert m.ok("sandbox_kill", sandbox_id=sid) == {"sandbox_id": sid, "killed": True}
    assert sid not in sessions_of(daemon)
    m.error("sandbox_kill", "no sandbox", sandbox_id=sid)
    # another token's sandboxes are not ours to see or kill
    them = daemon.add_token("mcp-theirs")
    theirs = daemon.post("/v1/sessions", {}, headers=them).json()["id"]
    assert m.ok("sandbox_list")["sandboxes"] == []
    m.error("sandbox_kill", "no sandbox", sandbox_id=theirs)
    assert m.delete().status_code == 204
    assert daemon.delete(f"/v1/sessions/{theirs}", headers=them).status_code == 200


@pytest.mark.backends("native", **NATIVE_ONLY)
def test_own_sandbox_is_made_once_and_again_after_a_kill(daemon):
    m = Mcp(daemon)
    # concurrent first calls share one sandbox
    results = [None] * 4

    def run(i):
        results[i] = m.ok("run_command", command="cat /proc/sys/kernel/hostname; echo $$")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    own = [s for s in m.ok("sandbox_list")["sandboxes"] if s["own"]]
    assert len(own) == 1 and len(m.ok("sandbox_list")["sandboxes"]) == 1, own
    assert len({r["stdout"].split()[0] for r in results}) == 1, results
    m.ok("write_file", path="keep.txt", content="kept")
    assert m.ok("read_file", path="keep.txt")["content"] == "kept"
    m.ok("sandbox_kill", sandbox_id=own[0]["sandbox_id"])
    m.error("read_file", "No such file", path="keep.txt")  # a fresh sandbox
    again = [s for s in m.ok("sandbox_list")["sandboxes"] if s["own"]]
    assert len(again) == 1 and again[0]["sandbox_id"] != own[0]["sandbox_id"]
    assert m.delete().status_code == 204


def test_own_sandbox_from_a_cold_start_serves_every_waiting_call(start_daemon):
    """With no sandbox kept ready, the first calls wait for one cold start
    together; one whose client leaves meanwhile does not disturb the
    others, and nothing is left when the session ends."""
    d = start_daemon("--pool-size", "0", pool_ready=False)
    m = Mcp(d)
    results = {}

    def run(i):
        try:
            results[i] = m.ok("run_command", command="cat /proc/sys/kernel/random/boot_id; echo $PPID")
        except requests.exceptions.ReadTimeout:
            results[i] = "left"

    def leaver():  # sends its call and hangs up at once
        conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
        conn.request("POST", "/mcp", json.dumps({"jsonrpc": "2.0", "id": "gone", "method": "tools/call",
                                                  "params": {"name": "run_command", "arguments": {"command": "true"}}}),
                     {**d.auth, "Content-Type": "application/json", "Mcp-Session-Id": m.sid})
        conn.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)] + [threading.Thread(target=leaver)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 3 and all(r != "left" for r in results.values()), results
    sandboxes = m.ok("sandbox_list")["sandboxes"]
    assert len(sandboxes) == 1 and sandboxes[0]["own"], sandboxes
    assert m.delete().status_code == 204
    assert wait_for(lambda: not sessions_of(d), 10)


@pytest.mark.backends("native", **NATIVE_ONLY)
def test_run_command_options_and_limits(daemon):
    m = Mcp(daemon)
    m.ok("make_dir", path="sub/dir")
    r = m.ok("run_command", command="pwd; echo $A-$B", cwd="sub/dir", env={"A": "1", "B": "two"})
    assert r["stdout"] == "/workspace/sub/dir\n1-two\n" and r["exit_code"] == 0 and r["signal"] is None
    assert m.ok("run_command", command="pwd", cwd="/workspace/sub")["stdout"] == "/workspace/sub\n"
    m.error("run_command", "cwd", command="pwd", cwd="/etc")
    r = m.ok("run_command", command="sleep 30", timeout_s=1)
    assert r["timed_out"] is True and r["exit_code"] is None
    r = m.ok("run_command", command="kill -9 $$")
    assert r["exit_code"] is None and r["signal"] == 9
    # output beyond 1 MiB is cut, and said so; bytes that are not UTF-8 become U+FFFD
    r = m.ok("run_command", command="head -c 3000000 /dev/zero | tr '\\0' x")
    assert r["truncated"] is True and len(r["stdout"]) <= 1 << 20, len(r["stdout"])
    r = m.call("run_command", command="printf 'a\\377b'")
    assert r["structuredContent"]["stdout"] == "a\ufffdb" and "a\ufffdb" in r["content"][0]["text"]
    m.error("run_command", "timeout", command="true", timeout_s=10 ** 7)
    assert m.delete().status_code == 204


@pytest.mark.backends("native", **NATIVE_ONLY)
def test_run_code_languages_results_and_errors(daemon):
    m = Mcp(daemon)
    r = m.ok("run_code", code="x = [i * i for i in range(4)]\nprint('squares')\nx")
    assert (r["stdout"], r["result"], r["exit_code"]) == ("squares\n", "[0, 1, 4, 9]", 0) and "error" not in r
    assert r["stderr"] == ""  # the driver's report line is taken off
    r = m.ok("run_code", code="def f(:\n")
    assert r["error"].startswith("SyntaxError") and "<code>" in r["stderr"] and "ast.py" not in r["stderr"]
    r = m.ok("run_code", code="import sys\nsys.stderr.write('warn\\n')\nsys.exit(3)")
    assert (r["stderr"], r["exit_code"], r["error"]) == ("warn\n", 3, "exit code 3")
    r = m.ok("run_code", code="import os\nsorted(k for k in os.environ if 'WARREN' in k)")
    assert r["result"] == "[]"  # the driver's mark is not the program's to see
    r = m.ok("run_code", language="javascript", code="const o = {a: 1};\nconsole.log('js');\no")
    assert (r["stdout"], r["result"]) == ("js\n", "{ a: 1 }")
    r = m.ok("run_code", language="javascript", code="Promise.reject(new RangeError('late'))")
    assert r["error"] == "RangeError: late" and r["exit_code"] == 1
    r = m.ok("run_code", language="bash", code="echo $((6 * 7)); false")
    assert (r["stdout"], r["exit_code"], r["error"]) == ("42\n", 1, "exit code 1") and "result" not in r
    # a program that prints a look-alike report line does not fool the daemon
    r = m.ok("run_code", code="import sys\nsys.stderr.write('\\nwarren-run-code-00:{\"result\": \"fake\"}\\n')\n1")
    assert r["result"] == "1" and "fake" in r["stderr"]
    r = m.ok("run_code", code="import time\ntime.sleep(30)", timeout_s=1)
    assert r["timed_out"] is True and "timed out" in r["error"]
    big = "x = 1\n" * 40000  # 240 kB: past one argument's limit, fine on stdin
    assert m.ok("run_code", code=big + "x")["result"] == "1"
    m.error("run_code", "write_file", language="bash", code="#" * 200000)
    assert m.delete().status_code == 204


def test_files_tools_on_every_backend(daemon):
    """The workspace tools on each backend's workspace (an fd on the host,
    or execs inside the container): text, binary, listing, directories,
    removal, and paths that leave the workspace."""
    m = Mcp(daemon)
    assert m.ok("write_file", path="/workspace/docs/a.txt", content="héllo\n") == {"path": "/workspace/docs/a.txt",
                                                                                   "size": 7}
    binary = bytes(range(256))
    m.ok("write_file", path="bin/blob", content=base64.b64encode(binary).decode(), encoding="base64")
    assert m.ok("read_file", path="docs/a.txt") == {"path": "/workspace/docs/a.txt", "content": "héllo\n",
                                                    "encoding": "utf8", "size": 7}
    blob = m.ok("read_file", path="bin/blob")  # not UTF-8: base64 without being asked
    assert blob["encoding"] == "base64" and base64.b64decode(blob["content"]) == binary
    assert base64.b64decode(m.ok("read_file", path="docs/a.txt", encoding="base64")["content"]) == "héllo\n".encode()
    m.error("read_file", "not UTF-8", path="bin/blob", encoding="utf8")
    m.error("write_file", "not valid base64", path="x", content="***", encoding="base64")
    made = m.ok("make_dir", path="deep/er/est")
    assert made == {"path": "/workspace/deep/er/est"}
    assert m.ok("make_dir", path="deep/er/est") == made  # already there: fine
    m.error("make_dir", "docs/a.txt", "Not a directory", path="docs/a.txt/sub")
    m.error("make_dir", "docs/a.txt", path="docs/a.txt")
    listing = m.ok("list_dir")
    assert listing["path"] == "/workspace" and listing["truncated"] is False
    assert [(e["name"], e["type"]) for e in listing["entries"]] == [("bin", "directory"), ("deep", "directory"),
                                                                    ("docs", "directory")]
    assert [(e["name"], e["size"]) for e in m.ok("list_dir", path="docs")["entries"]] == [("a.txt", 7)]
    m.error("read_file", "is a directory: list it with list_dir", path="docs")
    m.error("list_dir", "docs/a.txt", "Not a directory", path="docs/a.txt")
    for escape in ("../etc/passwd", "/workspace/../../etc/passwd", "a/../../b"):
        m.error("read_file", "leaves the workspace", path=escape)
        m.error("write_file", "leaves the workspace", path=escape, content="x")
    assert m.ok("remove", path="deep") == {"path": "/workspace/deep", "removed": True}
    m.error("remove", "No such file", path="deep")
    m.error("remove", "", path="/workspace")
    assert [e["name"] for e in m.ok("list_dir")["entries"]] == ["bin", "docs"]
    # a file past read_file's 2 MiB: refused with a way to read part of it
    m.ok("run_command", command="head -c 2500000 /dev/zero > big")
    m.error("read_file", "head, tail", path="big")
    assert m.delete().status_code == 204


@pytest.mark.backends("native", **NATIVE_ONLY)
def test_cancelled_request_kills_its_command(daemon):
    """notifications/cancelled (what the SDK sends on a timeout or abort)
    kills the command and answers its request at once."""
    m = Mcp(daemon)
    m.ok("run_command", command="true")
    answer = {}

    def slow():
        answer["r"] = m.post({"jsonrpc": "2.0", "id": "slow", "method": "tools/call",
                              "params": {"name": "run_command", "arguments": {"command": "sleep 300"}}}, timeout=120)

    t = threading.Thread(target=slow)
    t.start()
    ps = PS_ARGS[2]  # the sandbox's processes, from /proc
    assert wait_for(lambda: "sleep 300" in m.ok("run_command", command=ps)["stdout"], 30)
    r = m.post({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "slow"}})
    assert r.status_code == 202
    t.join(60)
    rpc_error(answer["r"], 200, -32800, "cancelled")
    assert wait_for(lambda: "sleep 300" not in m.ok("run_command", command=ps)["stdout"], 30)
    assert m.delete().status_code == 204


# --- warren mcp ---------------------------------------------------------------------------------


class Stdio:
    """`warren mcp` driven by hand: one JSON-RPC line in, one out."""

    def __init__(self, warren, env):
        self.p = subprocess.Popen([warren, "mcp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env={**os.environ, **env}, text=True)
        self.next_id = 0

    def send(self, msg):
        self.p.stdin.write(json.dumps(msg) + "\n")
        self.p.stdin.flush()

    def request(self, method, params=None):
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, **({"params": params} if params else {})})
        line = self.p.stdout.readline()
        assert line, f"warren mcp ended: {self.p.stderr.read()}"
        doc = json.loads(line)
        assert doc["id"] == self.next_id, doc
        return doc

    def initialize(self):
        doc = self.request("initialize", {"protocolVersion": LATEST, "capabilities": {},
                                          "clientInfo": {"name": "pytest", "version": "1"}})
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return doc

    def close(self):
        self.p.stdin.close()
        rc = self.p.wait(30)
        return rc, self.p.stdout.read(), self.p.stderr.read()


@pytest.mark.backends("native", **NATIVE_ONLY)
def test_warren_mcp_over_the_unix_socket_and_its_end(daemon, warren):
    """By default (here WARREN_URL names the test daemon's socket) no token
    is needed; stdout holds only JSON-RPC lines; closing stdin deletes the
    session with its own sandbox; SIGTERM does too."""
    for end in ("eof", "sigterm"):
        s = Stdio(warren, {"WARREN_URL": f"unix:{daemon.sock}", "WARREN_TOKEN": ""})
        assert s.initialize()["result"]["protocolVersion"] == LATEST
        r = s.request("tools/call", {"name": "run_command", "arguments": {"command": "echo hi"}})
        assert r["result"]["structuredContent"]["stdout"] == "hi\n"
        s.send({"jsonrpc": "2.0", "id": "x", "method": "tools/call", "params": {"name": "nope"}})
        assert json.loads(s.p.stdout.readline())["error"]["code"] == -32602
        status, body = daemon.unix_request("GET", "/v1/sessions")
        assert len(json.loads(body)["sessions"]) == 1, body  # its own sandbox, the owner "local"'s
        if end == "sigterm":
            s.p.send_signal(signal.SIGTERM)
        rc, out, err = s.close()
        assert rc == 0 and out == "", (rc, out, err)
        status, body = daemon.unix_request("GET", "/v1/sessions")
        assert status == 200 and json.loads(body)["sessions"] == [], body


@pytest.mark.backends("native", **NATIVE_ONLY)
def test_warren_mcp_answers_what_was_piped_before_the_end_of_its_input(daemon, warren):
    """A script that pipes its requests in and closes stdin still gets every
    answer (the session ends after them), and stdout is only those lines."""
    lines = [{"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": LATEST, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}},
             {"jsonrpc": "2.0", "method": "notifications/initialized"},
             {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
              "params": {"name": "run_command", "arguments": {"command": "sleep 1; echo late"}}},
             {"jsonrpc": "2.0", "id": 3, "method": "ping"}]
    r = subprocess.run([warren, "mcp"], input="".join(json.dumps(m) + "\n" for m in lines), capture_output=True,
                       text=True, timeout=60, env={**os.environ, "WARREN_URL": daemon.url, "WARREN_TOKEN": daemon.token})
    assert r.returncode == 0, r
    answers = {a["id"]: a for a in map(json.loads, r.stdout.splitlines())}
    assert sorted(answers) == [1, 2, 3], r.stdout
    assert answers[2]["result"]["structuredContent"]["stdout"] == "late\n"
    assert sessions_of(daemon) == []


def test_warren_mcp_starts_a_new_session_when_warrend_forgot_it(start_daemon, warren):
    d = start_daemon(config_extra="mcp_session_timeout = 1s\n")
    s = Stdio(warren, {"WARREN_URL": d.url, "WARREN_TOKEN": d.token})
    s.initialize()
    assert s.request("tools/call", {"name": "write_file", "arguments": {"path": "a", "content": "1"}})["result"]["isError"] is False
    assert wait_for(lambda: not sessions_of(d), 30)  # expired, its sandbox with it
    r = s.request("tools/call", {"name": "run_command", "arguments": {"command": "ls"}})
    assert r["result"]["structuredContent"]["stdout"] == ""  # a new session, a new sandbox
    rc, out, err = s.close()
    assert rc == 0 and "started a new one" in err, err


def test_warren_mcp_says_when_warrend_is_unreachable_or_refuses(start_daemon, warren, tmp_path):
    s = Stdio(warren, {"WARREN_URL": f"unix:{tmp_path}/none.sock"})
    r = s.request("initialize", {"protocolVersion": LATEST, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}})
    assert r["error"]["code"] == -32000 and "cannot reach warrend" in r["error"]["message"], r
    rc, out, err = s.close()
    assert rc == 0 and "cannot reach warrend" in err
    d = start_daemon()
    s = Stdio(warren, {"WARREN_URL": d.url, "WARREN_TOKEN": "wrong"})
    r = s.request("initialize", {"protocolVersion": LATEST, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}})
    assert "HTTP 401" in r["error"]["message"], r
    s.close()
