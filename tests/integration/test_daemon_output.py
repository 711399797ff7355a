"""Command output in replies (audit item 6): output that is not UTF-8, or
whose control characters would make its JSON string more than 1.5 times its
size, comes as base64 ("<key>_encoding": "base64"), in buffered replies, /v1/run,
the compatibility routes and stream events alike; it always decodes to the
exact bytes, including large replies the daemon sends in pieces. A stream
whose client does not read holds the command back instead of queueing its
output in the daemon."""

import base64
import os

import pytest

from daemon_fixture import daemon, pid_alive, wait_for, warrend  # noqa: F401 (fixtures)
from test_daemon_caps import Held
from test_daemon_exec import events, sid  # noqa: F401 (a fixture: one session for the module)
from warrentest import all_processes

MIB = 1 << 20
FLOOD = f"head -c {16 * MIB} /dev/zero | tr '\\0' '\\1'"  # 16 MiB of \x01


def output(doc, key):
    """The bytes of doc[key], decoded as its <key>_encoding says."""
    if doc.get(f"{key}_encoding") == "base64":
        return base64.b64decode(doc[key], validate=True)
    assert f"{key}_encoding" not in doc, doc.get(f"{key}_encoding")
    return doc[key].encode()


def memory_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        return int(next(l for l in f if l.startswith(field + ":")).split()[1])


def reset_peak(pid):
    """Resets the process's VmHWM; returns its VmRSS now."""
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")
    return memory_kib(pid, "VmRSS")


@pytest.mark.not_under_sanitizers(why="it bounds the daemon's peak memory, which ASan's redzones and quarantine "
                                      "inflate several times")
def test_control_flood_comes_back_as_exact_base64(daemon, sid):
    base = reset_peak(daemon.proc.pid)
    r = daemon.post(f"/v1/sessions/{sid}/exec", {"shell": FLOOD, "output": "16M"})
    assert r.status_code == 200, r.text[:300]
    # The daemon keeps the raw output and encodes it a piece at a time:
    # its peak grows by about the output cap, at most twice it (the audit
    # saw 312 MiB, 20 times).
    grew = memory_kib(daemon.proc.pid, "VmHWM") - base
    assert grew < 2 * 16 * 1024, f"the daemon's peak grew by {grew} KiB for one 16 MiB reply"
    # base64's 4/3, not the 6 of \u0001 escapes
    assert len(r.content) < 16 * MIB * 4 // 3 + 1024, len(r.content)
    doc = r.json()
    assert doc["stdout_encoding"] == "base64" and doc["truncated"] is False, {k: doc[k] for k in doc if k != "stdout"}
    assert output(doc, "stdout") == b"\x01" * (16 * MIB)
    assert (doc["exit_code"], doc["stderr"]) == (0, "")


def test_large_text_stays_text_and_exact(daemon, sid):
    # 2 MiB of text whose multi-byte characters straddle every piece the
    # daemon encodes, with quotes, backslashes, tabs and a few escapes.
    line = 'h\u00e9llo "w\u00f6rld" \\ \t \U0001F600 \u20ac\x1b[0m\n'
    count = 2 * MIB // len(line.encode())
    text = line * count
    code = f"import sys; sys.stdout.write({line!r} * {count})"
    r = daemon.post(f"/v1/sessions/{sid}/exec", {"cmd": ["python3", "-c", code], "output": "16M"})
    assert r.status_code == 200, r.text[:300]
    doc = r.json()
    assert "stdout_encoding" not in doc and doc["stdout"] == text


@pytest.mark.parametrize("data, encoded", [
    (b"\x01" + b"a" * 9, False),           # 1 escape in 10 bytes: 1.5 times, text
    (b"\x01" + b"a" * 8, True),            # more: base64
    (b"\n\t\"\\" * 100, False),            # 2-byte escapes never switch
    (b"\x1b[1mbold\x1b[0m and the rest of a long line\n", False),
    (b"caf\xc3", True),                    # not UTF-8
])
def test_the_base64_rule(daemon, sid, data, encoded):
    doc = daemon.exec(sid, cmd=["cat"], stdin_base64=base64.b64encode(data).decode())
    assert (doc.get("stdout_encoding") == "base64") == encoded, doc
    assert output(doc, "stdout") == data


def test_run_and_compat_routes_encode_the_same_way(daemon, sid):
    small = f"head -c {MIB} /dev/zero | tr '\\0' '\\2'"
    doc = daemon.post("/v1/run", {"shell": small}).json()
    assert output(doc, "stdout") == b"\x02" * MIB
    r = daemon.post("/execute", {"session_id": sid, "command": small}).json()
    assert output(r, "output") == b"\x02" * MIB
    code = "import sys; sys.stdout.write('\\x03' * 100000); sys.stderr.write('\\x04' * 10); sys.exit(1)"
    r = daemon.post("/execute", {"code": code}).json()
    assert output(r, "stdout") == b"\x03" * 100000 and output(r, "stderr") == b"\x04" * 10
    assert r["success"] is False and output(r, "error") == b"\x04" * 10


def stream_bytes(got, name):
    return b"".join(base64.b64decode(d["data_base64"]) if "data_base64" in d else d["data"].encode()
                    for n, d in got if n == name)


def open_stream(daemon, sid, body, rcvbuf=None):
    """A streamed exec on a connection of its own."""
    return Held(daemon, "POST", f"/v1/sessions/{sid}/exec", dict(body, stream=True), rcvbuf).conn


def test_stream_events_use_the_same_rule(daemon, sid):
    conn = open_stream(daemon, sid, {"shell": "printf 'plain\\n'; sleep 0.2; printf '\\001\\001\\001'"})
    got = list(events(conn.getresponse()))
    conn.close()
    assert got[0] == ("stdout", {"data": "plain\n"}), got
    assert [d for n, d in got[1:-1]] == [{"data_base64": "AQEB"}], got


def blocked_writer(daemon, sid, comm):
    """The session's process named comm (one in the pid namespace of its
    init), if it sleeps writing to a full pipe."""
    ns = os.readlink(f"/proc/{daemon.init_pid(sid)}/ns/pid")
    for p in all_processes().values():
        try:
            if p.comm != comm or os.readlink(f"/proc/{p.pid}/ns/pid") != ns:
                continue
            with open(f"/proc/{p.pid}/wchan") as f:
                if f.read().endswith("pipe_write"):  # anon_pipe_write on newer kernels
                    return p.pid
        except OSError:
            pass
    return None


@pytest.mark.not_under_sanitizers(why="it bounds the daemon's peak memory, which ASan's redzones and quarantine "
                                      "inflate several times")
@pytest.mark.backends("native", "oci", why="the test finds the command among the host's processes in the pid "
                      "namespace of the session's init, which the docker backend does not report")
def test_a_stream_nobody_reads_holds_the_command_back(daemon, sid):
    pid = daemon.proc.pid
    base = reset_peak(pid)
    conn = open_stream(daemon, sid, {"shell": FLOOD, "output": "16M"}, rcvbuf=4096)
    try:
        # The daemon stops reading the command's pipe once its queue for
        # this client is full: the writer sleeps in pipe_write.
        writer = wait_for(lambda: blocked_writer(daemon, sid, "tr"), 30)
        assert writer, "the command was never held back"
        # Without backpressure the daemon would read on and the command end
        # (16 MiB takes well under a second); with it, it waits for us.
        # (A bounded wait that can only let a broken daemon pass, never
        # fail a working one.)
        assert not wait_for(lambda: not pid_alive(writer), 2), "the command ended though nobody read its output"
        assert blocked_writer(daemon, sid, "tr") == writer
        got = list(events(conn.getresponse()))
    finally:
        conn.close()
    assert got[-1][0] == "exit" and got[-1][1]["exit_code"] == 0, got[-1]
    assert stream_bytes(got, "stdout") == b"\x01" * (16 * MIB)
    # 16 MiB went through, at most a queue's worth at a time (22 MiB of
    # events would have piled up in the daemon without backpressure)
    grew = memory_kib(pid, "VmHWM") - base
    assert grew < 8 * 1024, f"the daemon's peak grew by {grew} KiB while streaming to a slow client"
