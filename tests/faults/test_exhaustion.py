"""One tenant trying to exhaust the daemon itself (audit items 6 and 7):
replies of 16 MiB of control characters to clients that never read them,
and more connections than the daemon has file descriptors. The daemon's
memory stays within a stated multiple of the output cap, other clients are
answered meanwhile, and at EMFILE it waits instead of spinning a core.
Each test ends with the host checked (hostcheck.host_clean)."""

import json
import os
import resource
import socket

import requests

from daemon_fixture import start_daemon, wait_for, warrend  # noqa: F401 (fixtures)
from hostcheck import host_clean
from test_daemon_caps import Held
from test_daemon_output import FLOOD, MIB, memory_kib, reset_peak  # FLOOD: 16 MiB of \x01, the default output cap


def cpu_seconds(pid):
    """utime + stime of the process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fresh_health(d):
    """GET /v1/health on a new connection (the fixture's session may reuse one
    accepted before), authenticated as the fixture's session is."""
    with requests.Session() as s:
        s.headers.update(d.http.headers)
        s.auth = d.http.auth
        try:
            return s.get(d.url + "/v1/health", timeout=5).status_code
        except requests.RequestException:
            return None


def test_six_clients_that_never_read_16_mib_replies(start_daemon, host_before):
    d = start_daemon()
    sid = d.create()["id"]
    pid = d.proc.pid
    base = reset_peak(pid)
    # never read, and with a tiny receive buffer: the daemon keeps each reply
    conns = [Held(d, "POST", f"/v1/sessions/{sid}/exec", {"shell": FLOOD}, rcvbuf=4096).conn for _ in range(6)]
    try:
        # every command has ended: the six replies wait in the daemon
        assert wait_for(lambda: d.get(f"/v1/sessions/{sid}").json()["execs_running"] == 0, 60)
        # others are answered meanwhile (the ceiling only catches a hang)
        h = d.get("/v1/health", timeout=30)
        assert h.status_code == 200 and h.json()["status"] == "ok", h.text
        # Each waiting reply holds its raw output and one encoded piece:
        # the peak grows by at most twice the output cap per exec (the
        # audit saw 380 MB for six, escaped 6 times).
        grew = memory_kib(pid, "VmHWM") - base
        assert grew < 6 * 2 * 16 * 1024, f"the daemon's peak grew by {grew} KiB for six 16 MiB replies"
        # and one of them, read now, is whole
        resp = conns[0].getresponse()
        doc = json.loads(resp.read())
        assert doc["stdout_encoding"] == "base64" and len(doc["stdout"]) == (16 * MIB + 2) // 3 * 4, len(doc["stdout"])
    finally:
        for c in conns:
            c.close()
    d.remove(sid)
    assert d.stop()[0] == 0, d.log()
    host_clean(host_before, d)


def test_out_of_descriptors_the_daemon_waits_instead_of_spinning(start_daemon, host_before):
    d = start_daemon()
    pid = d.proc.pid
    # A low limit from outside (prlimit on its soft limit; lowering the
    # hard one could not be undone here): what it holds now plus a few.
    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    limit = len(os.listdir(f"/proc/{pid}/fd")) + 8
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (limit, hard))
    conns = []
    try:
        # More connections than descriptors: the rest wait in the backlog
        # and accept() fails with EMFILE.
        conns = [socket.create_connection(("127.0.0.1", d.port), timeout=10) for _ in range(32)]
        assert wait_for(lambda: len(os.listdir(f"/proc/{pid}/fd")) >= limit, 30)
        # A listener that stays readable would spin the loop: a core's
        # worth of CPU per second. Waiting, it uses next to none.
        start = cpu_seconds(pid)
        wait_for(lambda: False, 1)  # one second of the daemon's life at EMFILE
        used = cpu_seconds(pid) - start
        assert used < 0.25, f"the daemon used {used:.2f} s of CPU in one second at EMFILE"
    finally:
        for c in conns:
            c.close()
    assert "accept: Too many open files: new connections wait" in d.log()
    # the connections are gone: it accepts and serves again
    assert wait_for(lambda: fresh_health(d) == 200, 30), d.log()
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
    sid = d.create()["id"]
    d.remove(sid)
    assert d.stop()[0] == 0, d.log()
    host_clean(host_before, d)
