"""One tenant trying to exhaust the daemon itself (audit item 7): more
connections than the daemon has file descriptors. At EMFILE it waits
instead of spinning a core, and serves again once they close.
Each test ends with the host checked (hostcheck.host_clean)."""

import os
import resource
import socket

import requests

from daemon_fixture import start_daemon, wait_for, warrend  # noqa: F401 (fixtures)
from hostcheck import host_clean


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
