"""The Python client (clients/python, package `warren`) against a real warrend.

Every method is driven over both transports (the unix socket and TCP):
sessions and their context manager, buffered and streamed commands with
base64 output, processes (followed, left, resumed, written to, signalled,
resized), files, directories as tar both ways, /v1/run, typed errors
(400, 401, 403, 404, 405, 409, 413, 429), retries of 429, keep-alive,
timeouts, the WARREN_URL/WARREN_TOKEN defaults, installation with pip and
the example agent loop. The first tests check the pure parts (URLs, retry
delays, the event-stream parser, workspace paths, unpacking a hostile
archive) without a daemon.
"""

import hashlib
import io
import logging
import os
import shutil
import signal
import stat
import subprocess
import sys
import tarfile
import threading

import pytest

from daemon_fixture import daemon, start_daemon, wait_for, warrend  # noqa: F401 (fixtures)
from warrentest import REPO

CLIENT_DIR = os.path.join(REPO, "clients", "python")
sys.path.insert(0, CLIENT_DIR)

import warren  # noqa: E402
from warren import archive, sse, transport  # noqa: E402
from warren.session import workspace_path  # noqa: E402


def daemon_token(d):
    """The bearer token the fixture's daemon wants on TCP, None while it wants
    none: the one place to change when the fixture's token moves."""
    auth = d.http.headers.get("Authorization", "")
    return getattr(d, "token", None) or (auth[len("Bearer "):] if auth.startswith("Bearer ") else None)


def connect(d, transport_name, **kw):
    """A client of daemon d over "unix" (its socket, tokenless) or "tcp"."""
    if transport_name == "unix":
        return warren.Client(d.sock, token="", **kw)
    return warren.Client(d.url, token=daemon_token(d) or "", **kw)


@pytest.fixture(params=["unix", "tcp"])
def client(daemon, request):
    c = connect(daemon, request.param)
    yield c
    c.close()


@pytest.fixture
def session(client):
    with client.create_session() as s:
        yield s


# --- pure parts: no daemon -----------------------------------------------------------------


def test_url_rules_are_the_cli_s(monkeypatch):
    p = transport.parse_url
    assert p("unix:/run/w.sock").unix_path == "/run/w.sock"
    assert p("/run/w.sock").unix_path == "/run/w.sock"
    assert p("rel/w.sock").unix_path == os.path.abspath("rel/w.sock")
    assert (p("http://127.0.0.1:8080").host, p("http://127.0.0.1:8080").port) == ("127.0.0.1", 8080)
    assert (p("http://[::1]:9/").host, p("http://[::1]:9/").port) == ("::1", 9)
    assert p("http://localhost").port == 80
    for bad, why in [("https://h:1", "https is not supported"), ("unix:rel", "ABSOLUTE"),
                     ("http://h:x", "port must be a number"), ("http://h:1/v1", "expected"), ("ftp://h", "expected")]:
        with pytest.raises(ValueError, match=why):
            p(bad)
    monkeypatch.delenv("WARREN_URL", raising=False)
    monkeypatch.delenv("WARREN_TOKEN", raising=False)
    assert transport.resolve_url(None) == warren.DEFAULT_URL == "unix:/run/warren/warrend.sock"
    monkeypatch.setenv("WARREN_URL", "")
    assert transport.resolve_url(None) == warren.DEFAULT_URL
    monkeypatch.setenv("WARREN_URL", "http://h:1")
    assert transport.resolve_url(None) == "http://h:1" and transport.resolve_url("unix:/x") == "unix:/x"
    assert transport.resolve_token(None) is None
    monkeypatch.setenv("WARREN_TOKEN", "abc")
    assert transport.resolve_token(None) == "abc" and transport.resolve_token("") is None
    with pytest.raises(ValueError, match="line break"):
        transport.resolve_token("a\r\nX-Evil: 1")


def test_retry_delays():
    assert transport.parse_retry_after("7") == 7.0
    assert transport.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert transport.parse_retry_after("soon") is None and transport.parse_retry_after(None) is None
    policy = warren.RetryPolicy(max_retries=3, backoff=0.5, max_backoff=1.5, max_retry_after=20)
    assert policy.delay(0, 12.0) == 12.0  # the daemon's Retry-After, as asked
    assert policy.delay(0, 21.0) is None  # too long: raised at once
    assert policy.delay(3, None) is None  # no retry left
    assert [policy.delay(a, None, rand=lambda: 1.0) for a in range(3)] == [0.5, 1.0, 1.5]  # doubling, bounded
    assert policy.delay(1, None, rand=lambda: 0.0) == 0.5  # jitter: half to all of it


def test_event_stream_parser():
    lines = [b": keep-alive\n", b"event: stdout\r\n", b"id: 7\n", b"data: {\"a\":\n", b"data:1}\n", b"\n",
             b"data: plain\n", b"\n", b"event: exit\n", b"retry: 50\n", b"data: {}\n", b"\n",
             b"event: cut\n", b"data: never dispatched\n"]
    it = iter(lines)
    got = list(sse.iter_sse(lambda: next(it, b"")))
    assert got == [sse.SSEMessage("stdout", '{"a":\n1}', "7"), sse.SSEMessage("message", "plain", "7"),
                   sse.SSEMessage("exit", "{}", "7", 50)]


def test_workspace_paths_never_leave_the_workspace():
    assert workspace_path("/workspace/a/./b//c/../d") == ["a", "b", "d"]
    assert workspace_path("/workspace") == workspace_path("") == workspace_path(".") == []
    assert workspace_path("a b/ü.txt") == ["a b", "ü.txt"]
    for bad in ["..", "../x", "a/../../x", "/workspace/.."]:
        with pytest.raises(ValueError, match="leaves the workspace"):
            workspace_path(bad)


def tar_of(*members):
    """A tar in memory from (TarInfo fields, data) pairs."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for fields, data in members:
            info = tarfile.TarInfo(fields.pop("name"))
            for k, v in fields.items():
                setattr(info, k, v)
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    buf.seek(0)
    return buf


@pytest.mark.parametrize("name", ["../evil", "/tmp/evil", "ok/../../evil"])
def test_unpack_refuses_names_outside(tmp_path, name):
    dest = tmp_path / "dest"
    with pytest.raises(warren.UnsafeArchive):
        archive.unpack(tar_of(({"name": "first"}, b"x"), ({"name": name}, b"x")), str(dest))
    assert not (tmp_path / "evil").exists() and list(dest.iterdir()) == [], "nothing may be written"


def test_unpack_never_writes_outside_through_links(tmp_path):
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    outside.mkdir()
    sym = tarfile.SYMTYPE
    written = archive.unpack(tar_of(
        ({"name": "abs", "type": sym, "linkname": str(outside)}, None),
        ({"name": "up", "type": sym, "linkname": "../outside"}, None),
        ({"name": "up/planted", "mode": 0o644}, b"x"),
        ({"name": "a", "type": sym, "linkname": "x/.."}, None),  # inside while x does not exist...
        ({"name": "x", "type": sym, "linkname": "."}, None),  # ...and outside once x is "."
        ({"name": "a/planted2/f"}, b"x"),
        ({"name": "inner", "type": sym, "linkname": "dir/f"}, None),
        ({"name": "dir/f", "mode": 0o4777}, b"data"),
        ({"name": "fifo", "type": tarfile.FIFOTYPE}, None),
    ), str(dest))
    assert list(outside.iterdir()) == [] and not (tmp_path / "planted2").exists()
    # "up" was not made a link, so up/planted is a file in a directory of dest.
    assert sorted(written) == ["dir/f", "inner", "up/planted", "x"]
    assert sorted(os.listdir(dest)) == ["dir", "inner", "up", "x"] and not os.path.islink(dest / "up")
    assert (dest / "inner").read_bytes() == b"data"
    assert stat.S_IMODE((dest / "dir" / "f").stat().st_mode) == 0o755  # no setuid, no group/other write


# --- the daemon: health, sessions ------------------------------------------------------------


def test_health_images_openapi_metrics(client):
    h = client.health()
    assert h["status"] == "ok" and h["pools"]
    assert [i["name"] for i in client.images()][0] == "host"
    assert "/v1/sessions" in client.openapi()["paths"]
    assert "warren_" in client.metrics()


def test_session_lifecycle(client):
    s = client.create_session(policy="default", limits={"memory": "128M", "pids": 64, "timeout": "30s"},
                              env={"GREETING": "hi"}, idle_timeout=120, max_lifetime="1h")
    try:
        assert len(s.id) == 32 and s.image == "host" and s.policy == "default"
        assert s.limits["memory"] == "128M" and s.limits["pids"] == 64 and s.limits["timeout"] == "30s"
        assert s.info["idle_timeout_s"] == 120 and s.info["max_lifetime_s"] == 3600
        assert s.exec("echo $GREETING").stdout == b"hi\n"
        got = client.get_session(s.id)
        assert got.id == s.id and got.info["state"] == "ready"
        assert s.id in [x.id for x in client.list_sessions()]
        assert s.refresh().info["limits"]["pids"] == 64
    finally:
        assert s.delete() is True
    with pytest.raises(warren.NotFound) as e:
        client.get_session(s.id)
    assert e.value.status == 404 and e.value.code == "not_found" and s.id in e.value.message
    with pytest.raises(warren.NotFound):
        s.delete()
    assert s.delete(missing_ok=True) is False
    assert s.id not in [x.id for x in client.list_sessions()]


def test_context_manager_deletes_the_session(client):
    with client.create_session() as s:
        assert client.get_session(s.id).id == s.id
    with pytest.raises(warren.NotFound):
        client.get_session(s.id)
    with pytest.raises(RuntimeError, match="boom"):
        with client.create_session() as s2:
            raise RuntimeError("boom")
    with pytest.raises(warren.NotFound):
        client.get_session(s2.id)
    with client.create_session() as s3:
        s3.delete()  # gone already: leaving the block is still fine


def test_session_handle_and_backend(client, daemon):
    with client.create_session(backend=daemon.backend) as s:
        assert s.backend == daemon.backend
        handle = client.session(s.id)  # no request
        assert handle.exec(["true"]).ok


# --- commands ----------------------------------------------------------------------------------


def test_exec_buffered(session):
    r = session.exec("echo out; echo err >&2; exit 3")
    assert (r.exit_code, r.signal, r.stdout, r.stderr, r.ok) == (3, None, b"out\n", b"err\n", False)
    assert r.duration_ms >= 0 and r.duration == r.duration_ms / 1000 and not (r.timed_out or r.oom_killed)
    with pytest.raises(warren.CommandFailed, match="exited with 3: err"):
        r.check()
    session.exec("mkdir -p sub").check()
    r = session.exec(["sh", "-c", 'echo "$0 $X $(pwd)"', "argv0"], env={"X": "y"}, cwd="/workspace/sub")
    assert r.stdout == b"argv0 y /workspace/sub\n" and r.check() is r
    assert session.exec("cat", stdin="text in").stdout == b"text in"
    binary = bytes(range(256)) * 4
    assert session.exec("cat", stdin=binary).stdout == binary
    assert session.exec(["nosuchcommand"]).exit_code == 127


def test_exec_output_in_base64_is_decoded(session):
    r = session.exec(r"printf '\001\002\003\004\377'; printf 'ok\000' >&2")
    assert r.raw["stdout_encoding"] == "base64" and r.raw["stderr_encoding"] == "base64"  # what the API sent
    assert r.stdout == b"\x01\x02\x03\x04\xff" and r.stderr == b"ok\x00"


def test_exec_timeout_and_truncation(session):
    r = session.exec("sleep 30", timeout=0.5)
    assert r.timed_out and not r.ok
    with pytest.raises(warren.CommandFailed, match="timed out"):
        r.check()
    r = session.exec("head -c 100000 /dev/zero", output="1K")
    assert r.truncated and len(r.stdout) <= 1024


@pytest.mark.backends("native", "oci", why="an engine reports a death by signal as exit 128+N (warrend.conf(5))")
def test_exec_killed_by_signal(session):
    r = session.exec("kill -TERM $$")
    assert (r.signal, r.exit_code) == (signal.SIGTERM, None)
    with pytest.raises(warren.CommandFailed, match="killed by signal 15"):
        r.check()
    assert session.exec("sleep 30", timeout=0.5).signal == signal.SIGKILL


def test_exec_stream(session):
    with session.exec_stream(r"echo one; printf '\001\002\003\004'; echo two >&2; exit 4") as stream:
        events = list(stream)
    # Pieces may merge, and stdout and stderr are two pipes: compare per stream.
    assert b"".join(e.data for e in events if e.kind == "stdout") == b"one\n\x01\x02\x03\x04"
    assert b"".join(e.data for e in events if e.kind == "stderr") == b"two\n"
    assert any("data_base64" in e.raw for e in events), "the control bytes came as base64 and were decoded"
    assert events[-1].kind == "exit" and events[-1].result.exit_code == 4 and stream.result.exit_code == 4
    r = session.exec_stream("for i in 1 2 3; do echo $i; done; echo e >&2", stdin=None).wait()
    assert (r.exit_code, r.stdout, r.stderr) == (0, b"1\n2\n3\n", b"e\n")


def test_leaving_a_stream_ends_its_command(session):
    stream = session.exec_stream("echo started; sleep 600")
    assert next(stream).data == b"started\n"
    assert session.refresh().info["execs_running"] == 1
    stream.close()
    assert wait_for(lambda: session.refresh().info["execs_running"] == 0, 30), session.info


# --- processes --------------------------------------------------------------------------------


def test_a_process_outlives_its_follower_and_resumes(session):
    p = session.start_process("read go; echo one; echo two >&2; read more; echo three; exit 6", stdin=True,
                              tag="job")
    assert isinstance(p, warren.Process) and p.running and p.tag == "job"
    assert [q.pid for q in session.processes()] == [p.pid]
    out = p.output()
    p.write("go\n")
    first = next(out)
    assert first.kind in ("stdout", "stderr") and int(first.id) >= 1
    out.close()  # leaving does not end it
    assert session.process(p.pid).running
    p.write(b"more\n")
    again = p.output(after=out.last_id)
    events = list(again)
    assert all(int(e.id) > out.last_id for e in events)
    assert events[-1].kind == "exit" and again.result.exit_code == 6
    seen = first.data + b"".join(e.data for e in events if e.kind in ("stdout", "stderr"))
    assert sorted(seen.decode().split()) == ["one", "three", "two"]
    p.refresh()
    assert not p.running and p.result.exit_code == 6
    with pytest.raises(warren.Conflict):
        p.write("late")


def test_process_stdin_signal_and_wait(session):
    p = session.start_process(["cat"], stdin=True)
    p.write(bytes(range(256)))
    p.close_stdin()
    r = p.wait(request_timeout=30)
    assert r.exit_code == 0 and r.stdout == bytes(range(256))
    q = session.start_process("sleep 300")
    q.kill()
    assert q.wait(request_timeout=30).signal == 9
    with pytest.raises(warren.BadRequest, match="signal"):
        session.start_process("sleep 300").signal("SIGNOPE")


@pytest.mark.backends("native", "oci", why="docker: no terminals (warrend.conf(5), BACKENDS)")
def test_process_with_a_terminal_and_resize(session):
    p = session.start_process("stty size; read x; stty size", pty=(100, 30))
    assert p.info["pty"] == {"cols": 100, "rows": 30}
    out = p.output(request_timeout=30)
    seen = b""
    while b"30 100" not in seen:
        event = next(out)
        assert event.kind == "pty", event
        seen += event.data
    p.resize(120, 40)
    p.write("\r")
    rest = out.wait()
    assert b"40 120" in rest.stdout and rest.exit_code == 0


# --- files ------------------------------------------------------------------------------------


def test_files(session, tmp_path):
    blob = os.urandom(300000)
    assert session.write_file("data/blob.bin", blob) == {"path": "data/blob.bin", "size": len(blob)}
    assert session.read_file("data/blob.bin") == blob
    assert session.write_file("/workspace/data/text.txt", "héllo\n")["size"] == 7
    assert session.read_file("data/text.txt") == "héllo\n".encode()
    src = tmp_path / "src.bin"
    src.write_bytes(b"0123456789")
    with open(src, "rb") as f:
        f.seek(4)
        assert session.write_file("data/from-file", f)["size"] == 6
    out = io.BytesIO()
    assert session.download_file("data/from-file", out) == 6 and out.getvalue() == b"456789"
    listing = session.list_dir("data")
    assert listing.path == "data" and not listing.truncated
    assert sorted(listing.names()) == ["blob.bin", "from-file", "text.txt"]
    blob_entry = next(e for e in listing if e.name == "blob.bin")
    assert blob_entry.is_file and blob_entry.size == len(blob) and blob_entry.mtime
    assert [e.name for e in session.list_dir() if e.is_dir] == ["data"]
    with pytest.raises(IsADirectoryError):
        session.read_file("data")
    with pytest.raises(NotADirectoryError):
        session.list_dir("data/text.txt")
    session.delete_file("data/text.txt")
    with pytest.raises(warren.NotFound):
        session.read_file("data/text.txt")
    session.delete_file("data")
    assert session.list_dir().names() == []
    with pytest.raises(warren.NotFound):
        session.delete_file("data")


def test_file_paths_cannot_reach_other_routes(session):
    # The router in front of the files API folds "..", even percent-encoded,
    # so "../../ID" sent as is would be DELETE /v1/sessions/ID.
    with pytest.raises(ValueError, match="leaves the workspace"):
        session.delete_file(f"../../{session.id}")
    with pytest.raises(ValueError, match="leaves the workspace"):
        session.read_file("a/../../x")
    assert session.refresh().info["state"] == "ready"


def tree(root):
    """{relative path: what it is}: a link's target, a file's bytes and
    executable bit, or "dir"."""
    out = {}
    for parent, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(parent, name)
            rel = os.path.relpath(path, root)
            if os.path.islink(path):
                out[rel] = ("link", os.readlink(path))
            elif os.path.isdir(path):
                out[rel] = "dir"
            else:
                with open(path, "rb") as f:
                    out[rel] = ("file", f.read(), os.access(path, os.X_OK))
    return out


def test_upload_and_download_a_directory(session, tmp_path):
    src = tmp_path / "src"
    (src / "sub" / "deep").mkdir(parents=True)
    (src / "empty").mkdir()
    (src / "a.txt").write_text("alpha\n")
    (src / "with space ü.txt").write_text("unicode\n")
    (src / "sub" / "blob.bin").write_bytes(os.urandom(200000))
    script = src / "sub" / "deep" / "run.sh"
    script.write_text("#!/bin/sh\necho ran\n")
    script.chmod(0o755)
    os.symlink("a.txt", src / "link")
    assert session.upload_dir(str(src), "in") == 8
    r = session.exec("cd in && find . | sort && ./sub/deep/run.sh && readlink link && sha256sum sub/blob.bin")
    want_sha = hashlib.sha256((src / "sub" / "blob.bin").read_bytes()).hexdigest()
    assert r.check().stdout_text.split("\n")[:8] == [".", "./a.txt", "./empty", "./link", "./sub", "./sub/blob.bin",
                                                       "./sub/deep", "./sub/deep/run.sh"]
    assert "./with space ü.txt" in r.stdout_text and "ran\na.txt\n" + want_sha in r.stdout_text
    assert session.upload_dir(str(src), "/tmp/elsewhere") == 8  # outside the workspace too
    assert session.exec("cat /tmp/elsewhere/a.txt").stdout == b"alpha\n"

    dst = tmp_path / "dst"
    got = session.download_dir("in", str(dst))
    assert sorted(got) == sorted(["a.txt", "with space ü.txt", "empty", "link", "sub", "sub/blob.bin", "sub/deep",
                                  "sub/deep/run.sh"])
    assert tree(dst) == tree(src)
    # The temporary archives are gone from the workspace.
    assert session.list_dir().names() == ["in"]
    assert sorted(session.download_dir("/tmp/elsewhere/sub", str(tmp_path / "d2"))) == \
        ["blob.bin", "deep", "deep/run.sh"]


def test_download_from_a_hostile_sandbox(session, tmp_path):
    """The sandbox controls what it packs: links out of the destination are
    not made, and nothing lands outside it."""
    session.exec("mkdir -p out/d && echo ok > out/d/f && ln -s /etc out/etc && ln -s ../../.. out/up && "
                 "ln -s d/f out/inner").check()
    dst = tmp_path / "dst"
    assert sorted(session.download_dir("out", str(dst))) == ["d", "d/f", "inner"]
    assert (dst / "inner").read_text() == "ok\n" and sorted(os.listdir(dst)) == ["d", "inner"]
    assert os.listdir(tmp_path) == ["dst"]


# --- one-shot ---------------------------------------------------------------------------------


def test_run(client):
    assert client.run("echo hi; echo err >&2").stdout == b"hi\n"
    assert client.run(["sh", "-c", "exit 5"]).exit_code == 5
    r = client.run(language="python", code="print(open('data/in.txt').read().upper(), end='')",
                   files={"data/in.txt": "from a file", "b.txt": b"bytes that are text"})
    assert r.check().stdout == b"FROM A FILE"
    assert client.run(language="bash", code="cat b.txt", files={"b.txt": b"utf-8 bytes"}).stdout == b"utf-8 bytes"
    assert client.run("cat", stdin="in").stdout == b"in"
    assert client.run("sleep 30", timeout=0.5).timed_out
    assert client.run(r"printf '\001\002\003'").stdout == b"\x01\x02\x03"
    with pytest.raises(ValueError, match="text files only"):
        client.run("true", files={"x.bin": b"\xff\xfe"})
    with pytest.raises(warren.BadRequest, match="language"):
        client.run(language="cobol", code="x")
    with pytest.raises(TypeError):
        client.run()


# --- errors -----------------------------------------------------------------------------------


def test_errors_are_typed(client, session):
    with pytest.raises(warren.NotFound) as e:
        client.session("0" * 32).exec("true")
    assert (e.value.status, e.value.code) == (404, "not_found") and isinstance(e.value, warren.APIError)
    with pytest.raises(warren.BadRequest, match='unknown field "bogus"') as e:
        client.request("POST", "/v1/sessions", json_body={"bogus": 1})
    assert (e.value.status, e.value.code, e.value.method) == (400, "bad_request", "POST")
    with pytest.raises(warren.BadRequest, match="exceeds the policy"):
        client.create_session(limits={"memory": "64G"})
    with pytest.raises(warren.MethodNotAllowed):
        client.request("PATCH", "/v1/sessions")
    with pytest.raises(warren.PayloadTooLarge) as e:  # max_json_body is 1M
        session.exec("cat", stdin="x" * (2 << 20))
    assert (e.value.status, e.value.code) == (413, "payload_too_large")
    assert client.request("GET", "/v1/health")["status"] == "ok"  # raw requests parse JSON


def test_permission_denied_is_forbidden(session):
    session.exec("mkdir ro && chmod 555 ro").check()
    with pytest.raises(warren.Forbidden) as e:
        session.write_file("ro/x", b"no")
    assert (e.value.status, e.value.code) == (403, "forbidden")


def test_permission_denied_is_forbidden_every_time(client):
    """52 writes into a read-only directory, 4 at a time, while another
    sandbox keeps the CPUs busy: every one is 403. (On docker podman dropped
    the shell's "Permission denied", a 500, when the write ended before
    podman had copied its stdin into the exec: the load made it likely.)"""
    with client.create_session() as s, client.create_session() as burner:
        s.exec("mkdir ro && chmod 555 ro").check()
        burner.exec("for i in 1 2 3 4; do (while :; do :; done) >/dev/null 2>&1 & done").check()
        outcomes = []

        def writer(n):
            for i in range(13):
                try:
                    s.write_file(f"ro/f{n}-{i}", b"no")
                    outcomes.append("written")
                except warren.APIError as e:
                    outcomes.append((e.status, e.code, str(e)))

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wrong = [o for o in outcomes if o[:2] != (403, "forbidden") or "ermission denied" not in o[2]]
        assert len(outcomes) == 52 and not wrong, f"{len(wrong)} of {len(outcomes)} not refused: {wrong[:3]}"
        assert s.exec("ls -A ro").stdout == b""


def test_dead_session_is_a_conflict(client, daemon):
    with client.create_session() as s:
        os.kill(daemon.init_pid(s.id), signal.SIGKILL)
        assert wait_for(lambda: s.refresh().info["state"] == "dead", 10), s.info
        with pytest.raises(warren.Conflict) as e:
            s.exec("true")
        assert (e.value.status, e.value.code) == (409, "conflict")


def test_daemon_unreachable(tmp_path):
    with pytest.raises(warren.DaemonUnreachable, match=r"cannot reach warrend at .*no\.sock: No such file or "
                                                         r"directory \(is warrend running\?\)"):
        warren.Client(str(tmp_path / "no.sock")).health()


# --- connections, timeouts, retries, tokens ------------------------------------------------------


def test_keep_alive_and_concurrent_use(client, session):
    opened = client.transport.pool.connections_opened
    for _ in range(5):
        session.exec("true")
        session.list_dir()
    assert client.transport.pool.connections_opened == opened, "calls in a row share one connection"
    with session.exec_stream("echo a; sleep 600") as stream:
        assert next(stream).data == b"a\n"  # the stream holds its connection...
        assert client.health()["status"] == "ok"  # ...so this call takes another
    assert client.transport.pool.connections_opened == opened + 1


def test_timeout(client, session):
    with pytest.raises(warren.RequestTimeout):
        session.exec("sleep 600", request_timeout=0.5)
    # The client went away: warrend ends the command.
    assert wait_for(lambda: session.refresh().info["execs_running"] == 0, 30), session.info


def test_reconnects_when_the_daemon_closed_the_connection(start_daemon):
    d = start_daemon()
    clients = [warren.Client(d.sock, token=""), warren.Client(d.url, token=daemon_token(d) or "")]
    for c in clients:
        assert c.health()["status"] == "ok" and len(c.transport.pool._idle) == 1
    rc, _ = d.stop()
    assert rc == 0
    d.start()
    for c in clients:  # each kept-alive connection is dead now: a new one is made, no error
        assert c.health()["status"] == "ok" and c.transport.pool.connections_opened == 2
        c.close()


class OnRetry(logging.Handler):
    """Calls action once, at the client's first retry log line."""

    def __init__(self, action):
        super().__init__()
        self.action, self.retries = action, 0

    def emit(self, record):
        if "retry" in record.getMessage():
            self.retries += 1
            if self.retries == 1:
                self.action()


def test_capacity_is_429_and_retried(start_daemon):
    d = start_daemon("--max-sessions", "1", config_extra="max_file_size = 1K\n")
    no_retry = warren.Client(d.sock, token="", retries=0)
    first = no_retry.create_session()
    with pytest.raises(warren.TooManyRequests) as e:
        no_retry.create_session()
    assert (e.value.status, e.value.code) == (429, "capacity")
    with pytest.raises(warren.PayloadTooLarge):
        first.write_file("big", b"x" * 2048)
    # With retries, the create that met the cap succeeds once the first session is gone.
    patient = warren.Client(d.sock, token="",
                            retries=warren.RetryPolicy(max_retries=200, backoff=0.05, max_backoff=0.2))
    hook = OnRetry(first.delete)
    logger = logging.getLogger("warren")
    logger.addHandler(hook)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        with patient.create_session() as second:
            assert second.exec("true").ok
    finally:
        logger.removeHandler(hook)
        logger.setLevel(level)
    assert hook.retries >= 1, "the 429 was retried"


def add_token(warrend, tokens, name):
    out = subprocess.run([warrend, "token", "add", name, "--tokens", tokens], capture_output=True, text=True,
                         check=True)
    return out.stdout.strip()


def test_tokens_and_environment_defaults(warrend, start_daemon, tmp_path, monkeypatch):
    tokens = str(tmp_path / "tokens")
    alice = add_token(warrend, tokens, "alice")
    d = start_daemon("--tokens", tokens)
    as_alice = warren.Client(d.sock, token=alice)
    with as_alice.create_session() as s:
        with pytest.raises(warren.NotFound):
            warren.Client(d.sock, token="").get_session(s.id)  # another owner's session
        with pytest.raises(warren.Unauthorized) as e:
            warren.Client(d.sock, token="f" * 64).health()
        assert (e.value.status, e.value.code) == (401, "unauthorized")
        monkeypatch.setenv("WARREN_URL", "unix:" + d.sock)
        monkeypatch.setenv("WARREN_TOKEN", alice)
        from_env = warren.Client()
        assert from_env.url == "unix:" + d.sock and from_env.get_session(s.id).id == s.id


# --- packaging and the example -------------------------------------------------------------------


@pytest.mark.backends("native", why="packaging does not depend on the backend")
def test_pip_installs_it_offline(daemon, tmp_path):
    """pip install ./clients/python with the standard library and Debian's
    setuptools only, into a venv; the installed package talks to warrend."""
    src = tmp_path / "src"
    shutil.copytree(CLIENT_DIR, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    venv = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "--no-build-isolation", "--no-index", str(src)],
                         capture_output=True, text=True)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    code = ("import sys, warren; assert warren.__file__.startswith(sys.prefix), warren.__file__; "
            f"print(warren.Client({daemon.sock!r}, token='').health()['status'])")
    r = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == "ok\n", r.stdout + r.stderr


@pytest.mark.backends("native", why="the example does not depend on the backend")
def test_example_agent_loop(daemon):
    before = {s.id for s in warren.Client(daemon.sock, token="").list_sessions()}
    r = subprocess.run([sys.executable, os.path.join(CLIENT_DIR, "examples", "agent_loop.py"),
                        "--url", "unix:" + daemon.sock, "--token", ""], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SyntaxError" in r.stdout, "the failed run was fed back"
    assert r.stdout.endswith("answer: There are 15 primes below 50; the largest is 47.\n"), r.stdout
    after = {s.id for s in warren.Client(daemon.sock, token="").list_sessions()}
    assert after == before, "the loop's session was deleted"
