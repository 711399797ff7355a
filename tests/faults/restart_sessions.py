"""What the restart tests of the container backends (test_restart_oci.py,
test_restart_docker.py) share: the sessions a daemon is killed with, and
the checks that the next one took them back."""

import os
import signal

import requests

from daemon_fixture import assert_error, pid_alive, wait_for
from hostcheck import host_clean
from test_daemon_processes import Stream, finished, post, proc, start
from test_faults import stop_cleanly
from test_restart import TICKER, create, last_tick, record_path, running, session_ids  # noqa: F401 (running: theirs too)


def records(d):
    return {rec["id"]: rec for rec in d.state_files()}


class Sessions:
    """Six sessions of `old`, under two tokens: mine (four: two with files
    in their workspaces, one running a process that ticks, one whose
    sandbox the test removes behind the daemon's back) and theirs (two, a
    tenant's capped at two sessions)."""

    def __init__(self, old):
        self.tenant = old.add_token("tenant", "--max-sessions", "2")
        self.mine = [create(old) for _ in range(4)]
        self.theirs = [create(old, self.tenant) for _ in range(2)]
        self.files = {sid: os.urandom(2000 + i) for i, sid in enumerate(self.mine[:2])}
        for sid, data in self.files.items():
            r = old.http.put(f"{old.url}/v1/sessions/{sid}/files/dir/data.bin", data=data, timeout=60)
            assert r.status_code == 201, r.text
        self.ticking, self.gone = self.mine[2], self.mine[3]
        assert start(old, self.ticking, cmd=["sh", "-c", TICKER])["pid"] == 1
        assert wait_for(lambda: proc(old, self.ticking, 1)["state"] == "running", 30)
        self.saved = records(old)
        assert set(self.saved) == set(self.mine + self.theirs)
        # each session keeps its sandbox for the next daemon
        assert all(rec["kept"] and rec["backend_state"] for rec in self.saved.values()), \
            (list(self.saved.values())[0], old.log())

    def assert_taken_back(self, new, why_gone):
        """`new` took back every session but the removed one, whose record
        went with the log line `why_gone`; counts, tokens and files are as
        they were."""
        log = new.log()
        assert f"session {self.gone}: not taken back: {why_gone}" in log, log
        assert "took back 5 session(s) a previous run left; destroyed 1" in log, log
        assert not os.path.exists(record_path(new, self.gone))
        assert_error(new.get(f"/v1/sessions/{self.gone}"), 404, "not_found")
        assert session_ids(new) == set(self.mine[:3]) and session_ids(new, self.tenant) == set(self.theirs)
        assert new.get("/v1/health").json()["sessions"] == 5
        # the tenant's count came back with its sessions: still at its cap
        assert_error(requests.post(f"{new.url}/v1/sessions", json={}, headers=self.tenant, timeout=60), 429,
                     "capacity")
        r = requests.post(f"{new.url}/v1/sessions/{self.theirs[0]}/exec", json={"cmd": ["echo", "t"]},
                          headers=self.tenant, timeout=60)
        assert r.status_code == 200 and r.json()["stdout"] == "t\n", r.text
        for sid in self.mine[:3]:
            assert new.exec(sid, shell=f"echo {sid}")["stdout"] == f"{sid}\n"
        self.assert_files(new)

    def assert_files(self, d):
        for sid, data in self.files.items():
            got = d.get(f"/v1/sessions/{sid}/files/dir/data.bin")
            assert got.status_code == 200 and got.content == data, (sid, got.status_code)


def sigusr2_keeps_the_session(start_daemon, host_before, backend, containers):
    """The restart systemd asks for: the session's container stays, with its
    files, for the next daemon; the pool's containers go with the old one.
    containers(d): the names of the backend's containers of d's state
    directory."""
    old = start_daemon(backend=backend)
    sid = create(old)
    assert old.exec(sid, shell="echo kept > f")["exit_code"] == 0
    kept = records(old)[sid]["backend_state"]
    rc, _ = old.stop(signal.SIGUSR2)
    assert rc == 0, old.log()
    # the pool's are gone, the session's runs on (docker: renamed kept, or still being renamed)
    left = containers(old)
    assert len(left) == 1 and left <= {kept["container"], kept.get("created_as")}, (left, kept)
    new = start_daemon(workdir=old.workdir, backend=backend)
    assert "took back 1 session(s) a previous run left; destroyed 0" in new.log(), new.log()
    assert new.exec(sid, cmd=["cat", "f"])["stdout"] == "kept\n"
    stop_cleanly(new)
    host_clean(host_before, new, old)


# --- processes that run on through a restart ---------------------------------------------

ENDS_ON_USR1 = 'trap "echo done; exit 7" USR1; while :; do sleep 0.1; done'


def ticks_past(d, sid, pid, seen):
    """The process's output goes on past tick `seen`: the last one seen."""
    s = Stream(d, sid, pid)
    events = s.until(r"tick \d+")
    while last_tick(events) <= seen:
        events += s.until(r"tick \d+")
    s.close()
    return last_tick(events)


def first_ticks(d, sid, pid):
    s = Stream(d, sid, pid)
    seen = last_tick(s.until(r"tick [1-9]"))
    s.close()
    return seen


def kill_while_processes_run(old, held, kept):
    """kill -9 of `old`: the request `held` ends with it; while no daemon
    runs, the processes that `kept` (pids: their waiters or clients) hold
    run on, and the one running ENDS_ON_USR1 ends."""
    old.kill()
    held.join(60)
    assert all(pid_alive(p) for p in kept), kept
    for pid in running(ENDS_ON_USR1):
        os.kill(pid, signal.SIGUSR1)
    assert wait_for(lambda: not running(ENDS_ON_USR1), 30)


def stdin_then_eof(d, sid, pid, line):
    """The process (a `while read l; do echo "got $l"; done; echo eof`)
    takes `line` on its stdin, reads end-of-file once it is closed, and
    ends with 0."""
    s = Stream(d, sid, pid)
    assert post(d, sid, pid, "stdin", {"data": f"{line}\n"}).status_code == 200
    s.until(f"got {line}")
    assert post(d, sid, pid, "close-stdin").status_code == 200
    s.until("eof")
    s.close()
    assert finished(d, sid, pid)["exit_code"] == 0
