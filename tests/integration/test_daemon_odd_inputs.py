"""Inputs at the edges (audit item 14): the compatibility route's timeout,
a JSON number of any size, and GETs of workspace entries that are neither
files nor directories (a sandbox can make sockets and fifos; device nodes it
cannot make, and the workspace is nodev). Each gets a 400 that says what is
wrong, never a 500 or undefined behaviour."""

import pytest

from daemon_fixture import assert_error, start_daemon, warrend  # noqa: F401 (fixtures)


@pytest.fixture
def d(start_daemon):
    return start_daemon()


@pytest.mark.parametrize("timeout", [1e300, -1e300, 1e20, 9.3e15, -1, 0, 0.0001, "5", True, None])
def test_compat_timeout_out_of_range_is_400(d, timeout):
    sid = d.post("/create_session", {}).json()["session_id"]
    for body in ({"session_id": sid, "command": "echo hi", "timeout": timeout},
                 {"code": "print(1)", "timeout": timeout}):
        assert_error(d.post("/execute", body), 400, "bad_request",
                     "timeout: expected a number of seconds from 0.001 to")
    assert d.post("/cleanup", {"session_id": sid}).status_code == 200


def test_compat_timeout_in_range_still_works(d):
    sid = d.post("/create_session", {}).json()["session_id"]
    r = d.post("/execute", {"session_id": sid, "command": "echo hi", "timeout": 2.5})
    assert r.status_code == 200 and r.json()["output"] == "hi\n", r.text
    # a timeout above the session's limit is the session's 400, not a conversion
    assert_error(d.post("/execute", {"session_id": sid, "command": "true", "timeout": 1e6}), 400, "bad_request",
                 "exceeds the session's limit")
    assert d.post("/cleanup", {"session_id": sid}).status_code == 200


def test_get_of_a_socket_or_fifo_in_the_workspace_is_400(d):
    sid = d.create()["id"]
    r = d.exec(sid, cmd=["python3", "-c", "import os, socket\n"
                         "socket.socket(socket.AF_UNIX).bind('/workspace/sock')\n"
                         "os.mkfifo('/workspace/fifo')"])
    assert r["exit_code"] == 0, r
    for name in ("sock", "fifo"):
        assert_error(d.get(f"/v1/sessions/{sid}/files/{name}"), 400, "bad_request",
                     f"{name} is not a regular file or a directory")
    # the directory holding them still lists them
    listing = d.get(f"/v1/sessions/{sid}/files/").json()
    assert {e["name"]: e["type"] for e in listing["entries"]} == {"sock": "other", "fifo": "other"}, listing
    assert d.get("/v1/health").status_code == 200
    d.remove(sid)

