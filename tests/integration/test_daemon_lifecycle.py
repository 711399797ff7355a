"""warrend's lifecycle: SIGTERM drains, a SIGKILLed daemon's sessions are
taken back by the next one on the same state dir, SIGHUP keeps serving, a
sandbox that dies under a session is reported, and sessions expire."""

import json
import os
import signal
import threading

import pytest

from daemon_fixture import assert_error, daemon, pid_alive, start_daemon, wait_for, warrend  # noqa: F401 (fixtures)
from test_daemon_exec import assert_killed_with_its_session, events, open_stream
from warrentest import BACKENDS, backend_leftovers, in_sandbox_range


def test_sigterm_with_live_sessions_and_a_running_exec(start_daemon):
    d = start_daemon()
    sids = [d.create()["id"] for _ in range(10)]
    for sid in sids[:3]:
        assert d.exec(sid, shell="sleep 306 >/dev/null 2>&1 &")["exit_code"] == 0
    d.record_init_pids()
    assert len(d.init_pids) == 10
    outcome = {}

    def long_exec():
        try:
            r = d.post(f"/v1/sessions/{sids[0]}/exec", {"cmd": ["sleep", "60"]}, timeout=30)
            outcome["reply"] = (r.status_code, r.text)
        except Exception as e:  # the connection may close without a reply
            outcome["error"] = repr(e)

    t = threading.Thread(target=long_exec)
    t.start()
    assert wait_for(lambda: d.get(f"/v1/sessions/{sids[0]}").json()["execs_running"] == 1, 5)
    conn, resp = open_stream(d, sids[1], {"shell": "echo started; exec sleep 61"})
    stream = events(resp)
    assert next(stream) == ("stdout", {"data": "started\n"})
    rc, _ = d.stop(signal.SIGTERM, timeout=15)
    t.join(10)
    assert not t.is_alive(), "the exec request still hangs after the daemon exited"
    # warrend(8): exit 0 means drained within its 10 s limit (else it exits 1).
    assert rc == 0, f"warrend exited {rc}: {d.log()}"
    # The in-flight execs get the documented answer: killed with their session.
    assert "reply" in outcome, outcome
    assert_killed_with_its_session(*outcome["reply"])
    rest = list(stream)
    conn.close()
    assert [name for name, _ in rest] == ["exit"], rest
    assert_killed_with_its_session(200, json.dumps(rest[0][1]))
    d.assert_clean()


def test_restart_after_sigkill_takes_the_sessions_back(start_daemon):
    """warrend(8) RESTARTS: the sandboxes of a SIGKILLed daemon outlive it
    and the next daemon on its state directory takes them back; what it
    does not take back (the pool's sandboxes) it removes."""
    old = start_daemon()
    sids = [old.create()["id"] for _ in range(3)]
    assert old.exec(sids[0], shell="sleep 307 >/dev/null 2>&1 &")["exit_code"] == 0
    old_pid = old.proc.pid
    old.record_init_pids()
    inits = set(old.init_pids)
    assert len(inits) == 3 and old.cgroups()
    old.kill()
    assert all(pid_alive(p) for p in inits), "sandbox inits died with their daemon"
    assert len(old.state_files()) == 3
    new = start_daemon(workdir=old.workdir)
    assert "took back 3 session(s) a previous run left" in new.log(), new.log()
    assert {s["id"] for s in new.state_files()} == set(sids)
    # taken back under the new daemon's name; the old pool's cgroups are gone
    assert not old.cgroups(old_pid), f"the dead daemon's cgroups remain: {old.cgroups(old_pid)}"
    assert "sleep 307" in new.exec(sids[0], cmd=["ps", "-eo", "args"])["stdout"]
    for sid in sids:
        assert new.exec(sid, cmd=["echo", "ok"])["stdout"] == "ok\n"
    s = new.create()["id"]
    assert new.exec(s, cmd=["echo", "ok"])["stdout"] == "ok\n"
    new.remove(s)


def live_and_killed(start_daemon, backend):
    """Two daemons with a session each, the second SIGKILLed: (the live one,
    its session, the killed one, its pid, the killed one's session). Its
    containers outlive it."""
    other = start_daemon(backend=backend)
    kept = other.create()["id"]
    old = start_daemon(backend=backend)
    sid = old.create()["id"]
    old_pid = old.proc.pid
    old.kill()
    assert backend_leftovers(backend, old.state_dir, old_pid), "the containers died with their daemon"
    return other, kept, old, old_pid, sid


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "native"])
def test_restart_after_sigkill_removes_the_dead_daemons_containers(start_daemon, backend):
    """Containers outlive a SIGKILLed daemon (the runtime or the engine keeps
    them); the next daemon on its state directory removes them, and only
    them: another live daemon's, on the same engine, stay. The session is
    taken back (warrend(8) RESTARTS): its container keeps its name (oci)
    or is renamed after the new daemon (docker), the pool's go."""
    other, kept, old, old_pid, sid = live_and_killed(start_daemon, backend)
    container = old.state_files()[0]["backend_state"]["container"] if backend == "oci" else None
    new = start_daemon(workdir=old.workdir, backend=backend)
    assert "took back 1 session(s)" in new.log(), new.log()
    assert new.exec(sid, cmd=["echo", "back"])["stdout"] == "back\n"

    def left():
        return [n for n in backend_leftovers(backend, old.state_dir, old_pid) if not n.endswith(f" {container}")]

    def cgroups_left():
        return [c for c in old.cgroups(old_pid) if not c.endswith(f"/{container}")]
    assert wait_for(lambda: not left(), 10), f"the dead daemon's containers remain: {left()}"
    assert not cgroups_left(), f"the dead daemon's cgroups remain: {cgroups_left()}"
    assert other.exec(kept, cmd=["echo", "alive"])["stdout"] == "alive\n", "a live daemon lost its session"
    s = new.create()["id"]
    assert new.exec(s, cmd=["echo", "ok"])["stdout"] == "ok\n"
    new.remove(s)
    other.remove(kept)


def test_sighup_reload_keeps_serving(daemon):
    sid = daemon.create()["id"]
    assert daemon.exec(sid, shell="echo kept > /workspace/k")["exit_code"] == 0
    pid = daemon.proc.pid
    reloads = daemon.log().count("SIGHUP: ")
    for n in (1, 2):
        daemon.send(signal.SIGHUP)
        # Each SIGHUP is seen: the daemon says what it reloaded (warrend(8)).
        assert wait_for(lambda: daemon.log().count("SIGHUP: ") == reloads + n, 10), daemon.log()
    assert daemon.running and daemon.proc.pid == pid
    assert daemon.get("/v1/health").json()["status"] == "ok"
    assert daemon.exec(sid, cmd=["cat", "/workspace/k"])["stdout"] == "kept\n"
    s2 = daemon.create()["id"]
    assert daemon.exec(s2, cmd=["true"])["exit_code"] == 0
    daemon.remove(sid)
    daemon.remove(s2)


def test_sandbox_killed_from_the_host_is_reported_dead(daemon):
    sid = daemon.create()["id"]
    other = daemon.create()["id"]
    init = daemon.init_pid(sid)
    if daemon.backend != "docker":  # an engine runs its containers as the host's uid 1000 (warrend.conf(5))
        assert in_sandbox_range(os.stat(f"/proc/{init}").st_uid), "the init_pid of the state file is no sandbox's"
    cgroup = daemon.state_files()
    os.kill(init, signal.SIGKILL)
    state = wait_for(lambda: daemon.get(f"/v1/sessions/{sid}").json()["state"] == "dead", 5)
    assert state, daemon.get(f"/v1/sessions/{sid}").json()
    assert_error(daemon.post(f"/v1/sessions/{sid}/exec", {"cmd": ["true"]}), 409, "conflict", sid)
    # The other session and the daemon are unaffected.
    assert daemon.exec(other, cmd=["echo", "fine"])["stdout"] == "fine\n"
    assert daemon.get("/v1/health").json()["status"] == "ok"
    # A dead session can be deleted, and its cgroup (or container) is gone then.
    name = next(s["cgroup"].rsplit("/", 1)[-1] for s in cgroup if s["id"] == sid)
    assert daemon.remove(sid)["deleted"] is True
    assert wait_for(lambda: not [c for c in daemon.cgroups() if c.endswith("/" + name)], 3), \
        f"the dead session's cgroup {name} remains"
    daemon.remove(other)


def test_many_dead_sandboxes_then_delete_and_sigterm(start_daemon):
    d = start_daemon()
    sids = [d.create()["id"] for _ in range(12)]
    for sid in sids:
        os.kill(d.init_pid(sid), signal.SIGKILL)
    assert wait_for(lambda: all(d.get(f"/v1/sessions/{s}").json()["state"] == "dead" for s in sids), 5)
    assert wait_for(lambda: not d.live_inits(), 10), f"dead sandboxes not reaped: {d.live_inits()}"
    for sid in sids[:6]:
        r = d.delete(f"/v1/sessions/{sid}")
        assert r.status_code == 200 and d.running, f"DELETE of a dead session: {r.status_code} {r.text} {d.log()}"
    assert d.get("/v1/health").json()["status"] == "ok"
    # The other six are still dead sessions when the daemon drains.
    rc, _ = d.stop()
    assert rc == 0, f"warrend exited {rc} on SIGTERM with dead sessions: {d.log()}"


def test_idle_timeout_and_max_lifetime_expire_sessions(daemon):
    idle = daemon.create(idle_timeout="2s")
    assert idle["idle_timeout_s"] == 2
    busy = daemon.create(idle_timeout="2s")["id"]
    short = daemon.create(max_lifetime="2s")
    assert short["max_lifetime_s"] == 2

    def others_expired_while_busy_is_used():
        assert daemon.exec(busy, cmd=["true"])["exit_code"] == 0, "a session in use expired as idle"
        return all(daemon.get(f"/v1/sessions/{s['id']}").status_code == 404 for s in (idle, short))

    # busy is used about every 0.5 s, well within its 2 s idle timeout, until the others expire.
    assert wait_for(others_expired_while_busy_is_used, 30, interval=0.5)
    assert_error(daemon.get(f"/v1/sessions/{idle['id']}"), 404, "not_found")
    assert_error(daemon.get(f"/v1/sessions/{short['id']}"), 404, "not_found")
    assert daemon.get(f"/v1/sessions/{busy}").status_code == 200, "a session in use expired as idle"
    daemon.remove(busy)
    # Expired sessions leave no state file behind.
    assert {s["id"] for s in daemon.state_files()} & {idle["id"], short["id"]} == set()


def test_timeouts_above_the_daemons_maximum_are_400(daemon):
    assert_error(daemon.post("/v1/sessions", {"idle_timeout": "1000h"}), 400, "bad_request", "idle_timeout")
    assert_error(daemon.post("/v1/sessions", {"max_lifetime": "100000h"}), 400, "bad_request", "max_lifetime")
