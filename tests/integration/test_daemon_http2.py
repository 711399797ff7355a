"""warrend over HTTP/2 (cleartext, prior knowledge: warrend(8)): a buffered
and a streamed exec through curl, and, through a few HTTP/2 frames written
here (no h2 library is installed), a client that resets its exec's stream
(the command is killed, the connection keeps serving) and the GOAWAY a
client gets when the daemon drains with its stream still open.

The daemon runs with one bearer token on loopback; the requests here carry
the fixture session's headers, so they keep working when tokens become
mandatory."""

import json
import signal
import socket
import subprocess

import pytest

from daemon_fixture import daemon, start_daemon, wait_for, warrend  # noqa: F401 (fixtures)
from test_daemon_exec import assert_killed_with_its_session, procs_in_session, sid  # noqa: F401 (sid: a fixture)
from warrentest import read_past_a_gate

# --- curl --------------------------------------------------------------------------------


def curl_h2(d, method, path, body=None, *more):
    """(HTTP version, status, body) of one request with curl --http2-prior-knowledge."""
    args = ["curl", "-sS", "--http2-prior-knowledge", "-X", method, "-w", "\n%{http_version} %{http_code}"]
    for k, v in d.http.headers.items():
        if k.lower() == "authorization":
            args += ["-H", f"{k}: {v}"]
    if body is not None:
        args += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(body)]
    r = subprocess.run([*args, *more, d.url + path], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r
    out, _, tail = r.stdout.rpartition("\n")
    version, status = tail.split()
    return version, int(status), out


def sse(text):
    """The (event, data) pairs of a text/event-stream body."""
    out = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        out.append((fields["event"], json.loads(fields["data"])))
    return out


def test_buffered_exec_over_http2(daemon, sid):
    version, status, body = curl_h2(daemon, "POST", f"/v1/sessions/{sid}/exec",
                                    {"shell": "echo out; echo err >&2; exit 3"})
    assert (version, status) == ("2", 200), body
    r = json.loads(body)
    assert (r["exit_code"], r["stdout"], r["stderr"]) == (3, "out\n", "err\n"), r


def test_streamed_exec_over_http2(daemon, sid):
    """Events come as the command writes them: it waits for a gate file the
    test creates only after reading the first event."""
    gate = "/tmp/gate-h2-stream"
    args = ["curl", "-sS", "-N", "--http2-prior-knowledge", "-H", "Content-Type: application/json",
            *[a for k, v in daemon.http.headers.items() if k.lower() == "authorization" for a in ("-H", f"{k}: {v}")],
            "--data-binary", json.dumps({"stream": True, "timeout": "60s", "shell":
                                         f"echo one; until [ -e {gate} ]; do sleep 0.05; done; rm {gate}; "
                                         "echo two >&2; exit 4"}),
            f"{daemon.url}/v1/sessions/{sid}/exec"]
    p = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    first, rest = read_past_a_gate(p, 3, lambda: daemon.exec(sid, shell=f"touch {gate}"))  # event, data, blank
    got = sse(first + rest)
    assert got[:2] == [("stdout", {"data": "one\n"}), ("stderr", {"data": "two\n"})], got
    assert got[-1][0] == "exit" and got[-1][1]["exit_code"] == 4, got


# --- raw frames: a stream reset, and GOAWAY ------------------------------------------------

DATA, HEADERS, RST_STREAM, SETTINGS, GOAWAY = 0x0, 0x1, 0x3, 0x4, 0x7
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1
CANCEL = 0x8


def hpack_int(value, prefix_bits, first=0):
    top = (1 << prefix_bits) - 1
    if value < top:
        return bytes([first | value])
    out, value = [first | top], value - top
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    return bytes(out + [value])


def hpack_literal(name, value):
    """A literal header field without indexing, new name, no Huffman (RFC 7541 6.2.2)."""
    name, value = name.encode(), value.encode()
    return b"\0" + hpack_int(len(name), 7) + name + hpack_int(len(value), 7) + value


class H2:
    """The few frames a client needs to send requests and watch the answers
    (responses are not decoded beyond their frames)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + self.frame(SETTINGS, 0, 0))
        self.buf = b""

    @staticmethod
    def frame(kind, flags, stream, payload=b""):
        return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload

    def request(self, stream, method, path, headers, body=None):
        block = b"".join(hpack_literal(k, v) for k, v in [(":method", method), (":scheme", "http"),
                                                            (":authority", "localhost"), (":path", path),
                                                            *headers])
        flags = END_HEADERS | (END_STREAM if body is None else 0)
        out = self.frame(HEADERS, flags, stream, block)
        if body is not None:
            out += self.frame(DATA, END_STREAM, stream, body)
        self.sock.sendall(out)

    def reset(self, stream, code=CANCEL):
        self.sock.sendall(self.frame(RST_STREAM, 0, stream, code.to_bytes(4, "big")))

    def read_frame(self):
        """(kind, flags, stream, payload), or None once the server closed the connection."""
        while len(self.buf) < 9 or len(self.buf) < 9 + int.from_bytes(self.buf[:3], "big"):
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        n = int.from_bytes(self.buf[:3], "big")
        kind, flags, stream = self.buf[3], self.buf[4], int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF
        payload, self.buf = self.buf[9:9 + n], self.buf[9 + n:]
        if kind == SETTINGS and not flags & ACK:
            self.sock.sendall(self.frame(SETTINGS, ACK, 0))
        return kind, flags, stream, payload

    def read_until(self, done):
        """Frames up to and including the first one done(frame) accepts."""
        frames = []
        while True:
            f = self.read_frame()
            assert f is not None, f"the connection closed first; frames: {frames}"
            frames.append(f)
            if done(f):
                return frames

    def close(self):
        self.sock.close()


def json_request_headers(d, body):
    auth = [(k.lower(), v) for k, v in d.http.headers.items() if k.lower() == "authorization"]
    return [("content-type", "application/json"), ("content-length", str(len(body))), *auth]


def start_exec(h2, d, stream, sid, request):
    body = json.dumps(request).encode()
    h2.request(stream, "POST", f"/v1/sessions/{sid}/exec", json_request_headers(d, body), body)


STATUS_200 = 0x88  # HPACK's static table entry 8, ":status: 200", as h2o sends it


def test_reset_stream_kills_its_exec_and_the_connection_serves_on(daemon):
    """warrend(8): a client that goes away while its command runs is taken as
    gone. Over HTTP/2 that is a reset stream; the connection itself stays."""
    s = daemon.create()["id"]
    h2 = H2(daemon.port)
    try:
        start_exec(h2, daemon, 1, s, {"shell": "exec sleep 395"})
        assert wait_for(lambda: "sleep 395" in procs_in_session(daemon, s), 10, interval=0.2), \
            procs_in_session(daemon, s)
        h2.reset(1)
        gone = wait_for(lambda: daemon.get(f"/v1/sessions/{s}").json()["execs_running"] == 0, 10, interval=0.2)
        assert gone, "the exec of a reset stream still runs 10 s later"
        assert "sleep 395" not in procs_in_session(daemon, s)
        # The same connection serves the next request.
        start_exec(h2, daemon, 3, s, {"cmd": ["echo", "again"]})
        frames = h2.read_until(lambda f: f[2] == 3 and f[0] == DATA and f[1] & END_STREAM)
        heads = [p for kind, _, stream, p in frames if kind == HEADERS and stream == 3]
        assert heads and heads[0][0] == STATUS_200, frames
        body = b"".join(p for kind, _, stream, p in frames if kind == DATA and stream == 3)
        assert json.loads(body)["stdout"] == "again\n", body
    finally:
        h2.close()
    daemon.remove(s)


def test_drain_sends_goaway_and_ends_the_open_stream(start_daemon):
    """warrend(8), SIGTERM: HTTP/2 clients are told to go away (GOAWAY, no
    error), and the streamed exec still open ends with the exit event of a
    deleted session."""
    d = start_daemon()
    s = d.create()["id"]
    h2 = H2(d.port)
    try:
        start_exec(h2, d, 1, s, {"shell": "echo started; exec sleep 396", "stream": True})
        h2.read_until(lambda f: f[0] == DATA and f[2] == 1 and b"started" in f[3])
        d.send(signal.SIGTERM)
        frames = []
        while (f := h2.read_frame()) is not None:
            frames.append(f)
    finally:
        h2.close()
    goaway = [p for kind, _, _, p in frames if kind == GOAWAY]
    assert goaway, f"no GOAWAY before the connection closed: {frames}"
    # NO_ERROR, and stream 1 is among those the server still answers (h2o's first GOAWAY of a
    # graceful shutdown names the largest stream id, as RFC 9113 6.8 suggests)
    for p in goaway:
        last_stream, code = int.from_bytes(p[:4], "big") & 0x7FFFFFFF, int.from_bytes(p[4:8], "big")
        assert code == 0 and last_stream >= 1, goaway
    data = b"".join(p for kind, _, stream, p in frames if kind == DATA and stream == 1).decode()
    assert any(f[0] == DATA and f[2] == 1 and f[1] & END_STREAM for f in frames), frames
    events = sse(data)
    assert [name for name, _ in events] == ["exit"], events
    assert_killed_with_its_session(200, json.dumps(events[0][1]))
    rc, _ = d.stop()
    assert rc == 0, d.log()
