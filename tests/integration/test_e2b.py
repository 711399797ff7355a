"""E2B compatibility: E2B's own SDKs drive warrend, unchanged.

warrend runs with --e2b-listen; the real SDKs from npm, pinned (e2b and
@e2b/code-interpreter, installed into the npm cache by npm_cache.py), are
pointed at it with E2B_API_URL, E2B_SANDBOX_URL and an E2B-shaped key
minted by `warrend token add --e2b`. Each node script under e2b/ drives
one area through the SDK and prints what it saw as JSON; the assertions
are here. The templates are the real mapping (base: the minimal image,
code-interpreter-v1: the python image, built by warren-rootfs into the
image cache test_images.py shares), plus `hostbox` (e2b_template) for
JavaScript contexts, whose node comes from the host image.

The protocol's edges (errors, paging, Connect framing, credentials) are
checked from Python with plain HTTP. One daemon serves the module.
"""

import json
import os
import re
import shutil
import subprocess
import time

import pytest
import requests

import npm_cache
from daemon_fixture import (Daemon, free_port, start_daemon, stop_and_check, wait_for,  # noqa: F401 (fixtures)
                            warrend)

HERE = os.path.dirname(os.path.abspath(__file__))
SDK = ["e2b@2.51.0", "@e2b/code-interpreter@2.8.0"]


@pytest.fixture(scope="session")
def e2b_sdk():
    return npm_cache.install("E2B SDK", "e2b-sdk-2.51.0-ci-2.8.0", SDK)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """An image directory with the minimal and python images (built once
    into the shared cache by test_images.py's helper)."""
    from test_images import cached_image, rootfs_tool
    tool = rootfs_tool()
    if not os.access(tool, os.X_OK) or not shutil.which("mmdebstrap"):
        npm_cache.unavailable("E2B", f"the minimal and python images need warren-rootfs ({tool}) and mmdebstrap")
    d = tmp_path_factory.mktemp("e2b-images")
    for name in ("minimal", "python"):
        built, _ = cached_image(tool, name)
        os.symlink(os.path.join(built, name), d / name)
    return str(d)


@pytest.fixture(scope="module")
def e2b(warrend, images, tmp_path_factory, nothing_left_behind):
    port = free_port()
    d = Daemon(warrend, str(tmp_path_factory.mktemp("warrend-e2b")),
               ["--e2b-listen", f"127.0.0.1:{port}", "--image-dir", images],
               config_extra="e2b_template = hostbox=host\n").start()
    d.fixture_token()
    d.e2b_url = f"http://127.0.0.1:{port}"
    d.key = mint_e2b_key(d, "e2b-user")
    try:
        yield d
    finally:
        stop_and_check(d)


def mint_e2b_key(d, name):
    r = subprocess.run([d.binary, "token", "add", name, "--e2b", "--config", "/dev/null", "--tokens", d.tokens],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r
    d.send(1)  # SIGHUP: load it
    key = r.stdout.strip()
    assert wait_for(lambda: requests.get(f"{d.e2b_url}/sandboxes", headers={"X-API-KEY": key}).status_code == 200,
                    10)
    return key


def node(sdk, d, script, *args, key=None):
    """Runs e2b/SCRIPT with the SDK pointed at d; returns its JSON."""
    env = {**os.environ, "E2B_SDK_DIR": sdk, "E2B_API_KEY": key or d.key, "E2B_API_URL": d.e2b_url,
           "E2B_SANDBOX_URL": d.e2b_url}
    r = subprocess.run(["node", os.path.join(HERE, "e2b", script), *args], capture_output=True, text=True,
                       timeout=240, env=env)
    assert r.returncode == 0, f"node {script} exited {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    return json.loads(r.stdout.strip().splitlines()[-1])


def call(d, method, path, key=None, **kw):
    headers = {"X-API-KEY": key or d.key, **kw.pop("headers", {})}
    return requests.request(method, d.e2b_url + path, headers=headers, timeout=30, **kw)


def create(d, template="base", **body):
    r = call(d, "POST", "/sandboxes", json={"templateID": template, **body})
    assert r.status_code == 201, r.text
    return r.json()


def envd(d, sb, path, port=49983, **kw):
    """An in-sandbox request, routed as the SDKs route them: by header."""
    headers = {"E2b-Sandbox-Id": sb["sandboxID"], "E2b-Sandbox-Port": str(port),
               "X-Access-Token": sb["envdAccessToken"], **kw.pop("headers", {})}
    return requests.post(d.e2b_url + path, headers=headers, timeout=30, **kw)


def envelope(msg, flags=0):
    data = json.dumps(msg).encode()
    return bytes([flags]) + len(data).to_bytes(4, "big") + data


def envelopes(body):
    out = []
    while body:
        n = int.from_bytes(body[1:5], "big")
        out.append((body[0], json.loads(body[5:5 + n])))
        body = body[5 + n:]
    return out


# --- the key -------------------------------------------------------------------------------


def test_token_add_e2b_mints_the_key_shape_e2b_sdks_accept(e2b):
    assert re.fullmatch(r"e2b_[0-9a-f]{64}", e2b.key)
    # the same token works on warren's own API, as any token
    r = e2b.http.get(e2b.url + "/v1/sessions", headers={"Authorization": f"Bearer {e2b.key}"})
    assert r.status_code == 200, r.text


# --- the SDKs --------------------------------------------------------------------------------


def test_sdk_commands(e2b, e2b_sdk):
    out = node(e2b_sdk, e2b, "commands.mjs")
    run = out["run"]
    assert run == {"exitCode": 0, "stdout": "hello from /tmp\nsecond\n", "stderr": "oops\n",
                   "streamed": "hello from /tmp\nsecond\n", "streamedErr": "oops\n"}
    assert out["fails"] == {"thrown": True, "name": "CommandExitError", "isExitError": True, "exitCode": 3,
                            "stdout": "partial\n"}
    bg = out["background"]
    assert bg["echoed"] and bg["output"] == "got one\ngot two\n"
    assert bg["listed"] == [{"pid": bg["pid"], "cmd": "/bin/bash",
                             "args": ["-l", "-c", 'while read line; do echo "got $line"; done']}]
    assert bg["killed"] is True and bg["exit"]["exitCode"] == -1 and bg["after"] == []
    assert out["stdinClose"] == {"exitCode": 0, "stdout": "data\neof\n"}
    assert out["pty"] == {"first": True, "resized": True, "exitCode": 5}


def test_sdk_files(e2b, e2b_sdk):
    out = node(e2b_sdk, e2b, "files.mjs")
    assert out["text"] == {"info": {"name": "hello.txt", "path": "/workspace/dir/hello.txt", "type": "file"},
                           "back": "hello\nworld\n"}
    assert out["binary"] == {"same": True, "where": "/workspace\n256\n"}  # relative: the user's home
    assert out["tmp"] == "not only /workspace"
    lst = out["list"]
    assert [(e["name"], e["type"]) for e in lst["entries"]] == [("hello.txt", "file"), ("sub", "dir")]
    assert lst["entries"][0]["size"] == 12 and lst["hasTimes"]
    assert lst["deep"] == ["/workspace/bin.dat", "/workspace/dir", "/workspace/dir/hello.txt", "/workspace/dir/sub"]
    assert out["exists"] == {"file": True, "missing": False, "dirAgain": False}
    assert out["rename"] == {"path": "/workspace/dir/renamed.txt", "old": False, "text": "hello\nworld\n"}
    assert out["remove"] == {"file": False, "dir": False}
    assert out["readMissing"]["error"] == "FileNotFoundError"
    watch = out["watch"]
    assert watch["created"] and watch["removed"], watch
    assert {"name": "new.txt", "type": "remove"} in watch["events"]
    assert out["isolation"] == {"seenByB": False, "listedByB": []}


def test_sdk_lifecycle(e2b, e2b_sdk):
    out = node(e2b_sdk, e2b, "lifecycle.mjs", "lifecycle")
    first, second = out["ids"]
    info = out["info"]
    assert info["sandboxId"] == first and info["templateId"] == "base" and info["state"] == "running"
    assert info["metadata"] == {"suite": "lifecycle", "role": "first"}
    assert 55 <= info["lifetimeS"] <= 60  # timeoutMs 60 000
    assert out["envs"] == "kept\n"
    assert 590 <= out["setTimeout"] <= 600
    pages = out["list"]["pages"]  # limit 1: a page each, X-Next-Token between them
    assert len(pages) == 2 and sorted(p[0]["id"] for p in pages) == sorted([first, second]), pages
    assert out["list"]["first"] == [first]
    assert out["connect"] == {"sameId": True, "read": "shared"}
    assert out["connectMissing"]["error"] == "SandboxNotFoundError"
    assert out["badTemplate"]["message"].startswith('400: unknown template "no-such-template": warren serves base, '
                                                    "code-interpreter-v1 (images minimal and python)")
    assert out["pause"]["message"].startswith("501: pausing sandboxes is not supported by warren")
    assert out["snapshot"]["message"] == "501: snapshots are not supported by warren"
    assert out["kill"] == {"killed": True, "again": False, "running": False, "listed": [second]}


def test_sdk_code_interpreter(e2b, e2b_sdk):
    out = node(e2b_sdk, e2b, "interp.mjs")
    assert out["state"] == {"text": "42", "stdout": ["side 41\n"], "second": "82", "error": None}
    err = out["error"]
    assert (err["name"], err["value"], err["stdout"]) == ("ZeroDivisionError", "division by zero", ["before\n"])
    assert err["traceback"] == ('Traceback (most recent call last):\n  File "<cell>", line 2, in <module>\n'
                                "ZeroDivisionError: division by zero\n")
    assert out["streaming"] == {"seen": [["out", "out\n"], ["err", "err\n"]], "stderr": ["err\n"]}
    assert out["envs"] == "'yes'"
    assert out["contexts"] == {"language": "python", "inCtx": "('in ctx', '/tmp')", "notDefault": "NameError",
                               "listed": True, "afterRestart": "NameError", "gone": True}
    # the python image has no node: the JavaScript context says so
    assert out["js"]["error"]["name"] == "ContextExited"
    assert "the sandbox's image has no node" in out["js"]["error"]["value"]


def test_sdk_javascript_context_where_the_image_has_node(e2b, e2b_sdk):
    if not shutil.which("node"):
        pytest.skip("the host image has no node")
    out = node(e2b_sdk, e2b, "interp.mjs", "hostbox")
    assert out["js"] == {"text": "42", "stdout": ["js out\n"], "error": None}


# --- the control plane over plain HTTP ------------------------------------------------------


def test_errors_are_code_and_message(e2b):
    r = requests.get(e2b.e2b_url + "/sandboxes", timeout=10)
    assert r.status_code == 401 and r.json()["code"] == 401 and "X-API-KEY" in r.json()["message"]
    r = requests.get(e2b.e2b_url + "/sandboxes", headers={"X-API-KEY": "e2b_" + "0" * 64}, timeout=10)
    assert r.status_code == 401 and r.json() == {"code": 401, "message": "invalid API key (X-API-KEY): use a "
                                                                          "warrend token"}
    r = call(e2b, "GET", "/sandboxes/0123456789abcdef0123456789abcdef")
    assert r.status_code == 404 and set(r.json()) == {"code", "message"} and r.json()["code"] == 404
    r = call(e2b, "DELETE", "/sandboxes/0123456789abcdef0123456789abcdef")
    assert r.status_code == 404
    r = call(e2b, "POST", "/sandboxes", data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["code"] == 400
    r = call(e2b, "POST", "/templates", json={})
    assert r.status_code == 501 and "custom template builds are not supported by warren" in r.json()["message"]


def test_sandboxes_are_the_tokens_own(e2b):
    sb = create(e2b)
    other = mint_e2b_key(e2b, "e2b-other")
    try:
        assert call(e2b, "GET", f"/sandboxes/{sb['sandboxID']}", key=other).status_code == 404
        assert call(e2b, "GET", "/v2/sandboxes", key=other).json() == []
        assert call(e2b, "DELETE", f"/sandboxes/{sb['sandboxID']}", key=other).status_code == 404
        # the other token's key does not open this sandbox's envd either
        r = envd(e2b, sb, "/process.Process/List", json={},
                 headers={"X-Access-Token": "", "X-API-KEY": other})
        assert r.status_code == 401 and "send its envdAccessToken" in r.json()["message"], r.text
        info = call(e2b, "GET", f"/sandboxes/{sb['sandboxID']}").json()
        assert info["sandboxID"] == sb["sandboxID"] and info["envdVersion"] == "0.5.7"
    finally:
        assert call(e2b, "DELETE", f"/sandboxes/{sb['sandboxID']}").status_code == 204


def test_an_access_token_opens_its_own_sandbox_only(e2b):
    a, b = create(e2b), create(e2b)
    try:
        # a's envdAccessToken names b: refused, whoever's key rides along
        r = envd(e2b, b, "/process.Process/List", json={},
                 headers={"X-Access-Token": a["envdAccessToken"], "X-API-KEY": ""})
        assert r.status_code == 401, r.text
        r = requests.get(e2b.e2b_url + "/files", params={"path": "/etc/hostname"},
                         headers={"E2b-Sandbox-Id": b["sandboxID"], "X-Access-Token": a["envdAccessToken"]},
                         timeout=30)
        assert r.status_code == 401, r.text
        # without any credential nothing in a sandbox answers
        r = envd(e2b, a, "/process.Process/List", json={}, headers={"X-Access-Token": ""})
        assert r.status_code == 401, r.text
        # its own token opens it (no API key needed: the SDKs send none to envd)
        r = envd(e2b, a, "/process.Process/List", json={})
        assert r.status_code == 200, r.text
    finally:
        for sb in (a, b):
            assert call(e2b, "DELETE", f"/sandboxes/{sb['sandboxID']}").status_code == 204


def test_v2_list_pages_with_x_next_token(e2b):
    ids = [create(e2b, metadata={"paging": "yes"})["sandboxID"] for _ in range(3)]
    try:
        seen, token = [], None
        for _ in range(5):
            params = {"limit": 2, "metadata": "paging=yes", "state": "running"}
            if token:
                params["nextToken"] = token
            r = call(e2b, "GET", "/v2/sandboxes", params=params)
            assert r.status_code == 200, r.text
            seen += [s["sandboxID"] for s in r.json()]
            token = r.headers.get("X-Next-Token")
            if not token:
                break
        assert sorted(seen) == sorted(ids)
        r = call(e2b, "GET", "/v2/sandboxes", params={"state": "paused"})
        assert r.json() == []
    finally:
        for i in ids:
            call(e2b, "DELETE", f"/sandboxes/{i}")


def test_template_mapping(e2b):
    sb = create(e2b, "code-interpreter-v1")
    try:
        r = envd(e2b, sb, "/filesystem.Filesystem/Stat", json={"path": "/usr/bin/python3"})
        assert r.status_code == 200, r.text
    finally:
        call(e2b, "DELETE", f"/sandboxes/{sb['sandboxID']}")
    sb = create(e2b, "base")
    try:
        r = envd(e2b, sb, "/filesystem.Filesystem/Stat", json={"path": "/usr/bin/python3"})
        assert r.status_code == 404 and r.json()["code"] == "not_found", r.text  # minimal: no python
    finally:
        call(e2b, "DELETE", f"/sandboxes/{sb['sandboxID']}")


# --- envd over plain HTTP -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox(e2b):
    sb = create(e2b)
    yield sb
    call(e2b, "DELETE", f"/sandboxes/{sb['sandboxID']}")


def test_health_and_raw_files(e2b, sandbox):
    h = {"E2b-Sandbox-Id": sandbox["sandboxID"], "E2b-Sandbox-Port": "49983",
         "X-Access-Token": sandbox["envdAccessToken"]}
    assert requests.get(e2b.e2b_url + "/health", headers=h, timeout=10).status_code == 204
    body = bytes(range(256)) * 40
    r = requests.post(e2b.e2b_url + "/files", params={"path": "up/raw.bin"}, data=body,
                      headers={**h, "Content-Type": "application/octet-stream"}, timeout=10)
    assert r.status_code == 200 and r.json() == [{"name": "raw.bin", "type": "file", "path": "/workspace/up/raw.bin"}]
    r = requests.post(e2b.e2b_url + "/files", params={"path": "/tmp/multi.txt"}, headers=h, timeout=10,
                      files={"file": ("/tmp/multi.txt", b"from multipart")})
    assert r.status_code == 200, r.text
    # older SDKs send no sandbox id on /files: the access token finds it
    r = requests.get(e2b.e2b_url + "/files", params={"path": "/workspace/up/raw.bin"},
                     headers={"X-Access-Token": sandbox["envdAccessToken"]}, timeout=10)
    assert r.status_code == 200 and r.content == body and r.headers["Content-Length"] == str(len(body))
    r = requests.get(e2b.e2b_url + "/files", params={"path": "/tmp/multi.txt"}, headers=h, timeout=10)
    assert r.content == b"from multipart"
    r = requests.get(e2b.e2b_url + "/files", params={"path": "/nope"}, headers=h, timeout=10)
    assert r.status_code == 404 and set(r.json()) == {"code", "message"}


def test_connect_unary_errors(e2b, sandbox):
    r = envd(e2b, sandbox, "/filesystem.Filesystem/Stat", json={"path": "/workspace/none"})
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = envd(e2b, sandbox, "/filesystem.Filesystem/Stat", json={"path": 7})
    assert r.status_code == 400 and r.json()["code"] == "invalid_argument"
    r = envd(e2b, sandbox, "/process.Process/Nope", json={})
    assert r.status_code == 501 and r.json()["code"] == "unimplemented"
    r = envd(e2b, sandbox, "/filesystem.Filesystem/MakeDir", json={"path": "/workspace/md"})
    assert r.status_code == 200 and r.json()["entry"]["type"] == "FILE_TYPE_DIRECTORY"
    r = envd(e2b, sandbox, "/filesystem.Filesystem/MakeDir", json={"path": "/workspace/md"})
    assert r.status_code == 409 and r.json()["code"] == "already_exists"


def test_connect_stream_framing_and_proto3_json(e2b, sandbox):
    req = {"process": {"cmd": "/bin/sh", "args": ["-c", "printf hi; exit 3"]}}
    r = envd(e2b, sandbox, "/process.Process/Start", data=envelope(req),
             headers={"Content-Type": "application/connect+json"})
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/connect+json"
    msgs = envelopes(r.content)
    assert [f for f, _ in msgs] == [0] * (len(msgs) - 1) + [2] and msgs[-1][1] == {}
    events = [m["event"] for _, m in msgs[:-1]]
    assert set(events[0]) == {"start"} and isinstance(events[0]["start"]["pid"], int)
    assert {"data": {"stdout": "aGk="}} in events  # base64 of "hi"
    # envd's: the error of Go's cmd.Wait() beside the code
    assert events[-1] == {"end": {"exitCode": 3, "exited": True, "status": "exit status 3", "error": "exit status 3"}}
    # success has no exitCode (zero values are omitted)
    r = envd(e2b, sandbox, "/process.Process/Start", data=envelope({"process": {"cmd": "/bin/true"}}),
             headers={"Content-Type": "application/connect+json"})
    assert envelopes(r.content)[-2][1] == {"event": {"end": {"exited": True, "status": "exit status 0"}}}
    # a bad request still answers 200 with the error in the end-of-stream message
    r = envd(e2b, sandbox, "/process.Process/Start", data=envelope({"process": {}}),
             headers={"Content-Type": "application/connect+json"})
    (flags, end), = envelopes(r.content)
    assert r.status_code == 200 and flags == 2 and end["error"]["code"] == "invalid_argument"


def test_a_process_outlives_its_client(e2b, sandbox):
    """A client that disconnects does not end the process; Connect reattaches."""
    import socket
    body = envelope({"process": {"cmd": "/bin/sh", "args": ["-c", "read x; echo got $x"]}, "stdin": True})
    host, port = e2b.e2b_url[len("http://"):].split(":")
    starts = e2b.log().count("path=/process.Process/Start ")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall((f"POST /process.Process/Start HTTP/1.1\r\nHost: x\r\nContent-Type: application/connect+json\r\n"
                   f"E2b-Sandbox-Id: {sandbox['sandboxID']}\r\nE2b-Sandbox-Port: 49983\r\n"
                   f"X-Access-Token: {sandbox['envdAccessToken']}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
                  + body)
        head = b""
        while b'"start"' not in head:
            head += s.recv(4096)
    pid = int(re.search(rb'"pid":(\d+)', head).group(1))
    # the daemon logs the request once it has seen the client go
    assert wait_for(lambda: e2b.log().count("path=/process.Process/Start ") > starts, 10)
    r = envd(e2b, sandbox, "/process.Process/List", json={})
    assert pid in [p["pid"] for p in r.json()["processes"]]
    r = envd(e2b, sandbox, "/process.Process/Connect", data=envelope({"process": {"pid": pid}}),
             headers={"Content-Type": "application/connect+json"}, stream=True)
    assert r.status_code == 200
    s = envd(e2b, sandbox, "/process.Process/SendInput",
             json={"process": {"pid": pid}, "input": {"stdin": "eW8K"}})  # "yo\n"
    assert s.status_code == 200, s.text
    msgs = envelopes(r.content)
    assert msgs[0][1] == {"event": {"start": {"pid": pid}}}
    assert {"event": {"data": {"stdout": "Z290IHlvCg=="}}} in [m for _, m in msgs]  # "got yo\n"
    assert msgs[-2][1] == {"event": {"end": {"exited": True, "status": "exit status 0"}}} and msgs[-1] == (2, {})


def test_e2b_listen_must_be_tcp(warrend, tmp_path):
    r = subprocess.run([warrend, "--config", "/dev/null", "--e2b-listen", f"unix:{tmp_path}/e.sock",
                        "--state-dir", str(tmp_path)], capture_output=True, text=True, timeout=20)
    assert r.returncode != 0
    assert "e2b_listen: E2B's SDKs reach it by an http:// URL" in r.stderr


# --- a restart of warrend -------------------------------------------------------------------


def test_sdk_sandbox_outlives_a_restart_of_warrend(start_daemon, images, e2b_sdk):
    """A sandbox, its token and its E2B facts (template, metadata) come back
    with the session after warrend is killed -9: the SDK connects again,
    finds its file and its background command, and reattaches to it."""
    port = free_port()
    args = ["--e2b-listen", f"127.0.0.1:{port}", "--image-dir", images]
    old = start_daemon(*args)
    old.e2b_url = f"http://127.0.0.1:{port}"
    key = mint_e2b_key(old, "e2b-restart")
    made = node(e2b_sdk, old, "restart.mjs", "before", key=key)
    old.kill()
    new = start_daemon(*args, workdir=old.workdir)
    new.e2b_url = old.e2b_url
    assert "took back 1 session(s)" in new.log(), new.log()
    out = node(e2b_sdk, new, "restart.mjs", "after", made["id"], str(made["pid"]), key=key)
    assert out["info"] == {"sandboxId": made["id"], "templateId": "base", "metadata": {"kept": "yes"}}, out
    assert out["listed"] == [made["id"]], out
    assert out["file"] == "written before the restart", out
    assert out["running"] == [made["pid"]], out
    assert out["counting"] is True, out
    assert out["reattached"] == {"ticked": True, "killed": True}, out
    assert "error" not in str(out["killed"]), out

