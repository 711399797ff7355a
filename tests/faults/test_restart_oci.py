"""Sessions of the oci backend outlive a restart of warrend (warrend(8)
RESTARTS): runc keeps the containers, a holder process keeps their host id
ranges locked while no daemon runs, and the next daemon on the same state
directory takes back every container it can prove its own; a container
removed meanwhile is not, and its record goes with a log line. Real runc,
real warrend, as root; the host is checked after (hostcheck.host_clean)."""

import json
import os
import subprocess

import pytest

from daemon_fixture import assert_error, pid_alive, start_daemon, wait_for, warrend  # noqa: F401 (fixtures)
from hostcheck import host_clean
from restart_sessions import Sessions, records, sigusr2_keeps_the_session
from test_faults import stop_cleanly
from test_restart import create, ids_locked, record_path, session_ids, start_time

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the oci backend runs as root only")


def runc(d, *args):
    return subprocess.run(["runc", "--root", os.path.join(d.state_dir, "oci"), *args], capture_output=True,
                          text=True, timeout=60)


def test_kill_9_of_a_daemon_with_oci_sessions_then_restart_takes_them_back(start_daemon, host_before):
    old = start_daemon(backend="oci")
    sessions = Sessions(old)
    saved, gone, mine = sessions.saved, sessions.gone, sessions.mine
    inits = {sid: rec["backend_state"]["init_pid"] for sid, rec in saved.items()}
    holders = {rec["backend_state"]["holder_pid"] for rec in saved.values()}

    old.kill()

    # runc keeps the containers; their host ids stay locked with no daemon
    assert all(pid_alive(p) for p in inits.values()), inits
    for rec in saved.values():
        assert ids_locked(rec["backend_state"]["host_ids"]), rec["backend_state"]
    # one container is removed behind the daemon's back
    r = runc(old, "delete", "--force", saved[gone]["backend_state"]["container"])
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: not pid_alive(inits[gone]), 10)

    new = start_daemon(workdir=old.workdir, backend="oci")
    sessions.assert_taken_back(new, f"the runtime has no container {saved[gone]['backend_state']['container']}")
    sessions.assert_ticker_killed(new, "the oci backend's commands do not outlive warrend")

    # taken back, they outlive the next kill as well (the records the new
    # daemon wrote name the same holders)
    again = records(new)
    assert {rec["backend_state"]["holder_pid"] for rec in again.values()} <= holders
    new.kill()
    third = start_daemon(workdir=old.workdir, backend="oci")
    assert "took back 5 session(s) a previous run left; destroyed 0" in third.log(), third.log()
    sessions.assert_files(third)
    third.remove(mine[0])
    assert session_ids(third) == set(mine[1:3])

    stop_cleanly(third)
    assert wait_for(lambda: not [p for p in inits.values() if pid_alive(p)], 10), "containers outlived the stop"
    assert wait_for(lambda: not [p for p in holders if pid_alive(p)], 10), "holders of host ids outlived the stop"
    assert not os.listdir(os.path.join(third.state_dir, "sessions"))
    host_clean(host_before, third, new, old)


def test_sigusr2_keeps_oci_sessions_and_removes_the_pool(start_daemon, host_before):
    # (runc's state directory goes with the stop: host_clean checks it)
    sigusr2_keeps_the_session(start_daemon, host_before, "oci",
                              lambda d: set(runc(d, "list", "-q").stdout.split()))


def test_a_record_whose_holder_is_another_process_is_not_taken_back(start_daemon, host_before):
    """The host id range is proven locked through its holder: a holder pid
    that is another process now (even with that process's start time) is
    no proof, and the container is destroyed, the process untouched."""
    old = start_daemon(backend="oci")
    kept, reused, moved = create(old), create(old), create(old)
    saved = records(old)
    old.kill()
    impostor = subprocess.Popen(["sleep", "300"])
    try:
        for sid, with_its_start_time in ((reused, False), (moved, True)):
            path = record_path(old, sid)
            with open(path) as f:
                rec = json.load(f)
            rec["backend_state"]["holder_pid"] = impostor.pid
            if with_its_start_time:
                rec["backend_state"]["holder_start_time"] = start_time(impostor.pid)
            with open(path, "w") as f:
                json.dump(rec, f)
        new = start_daemon(workdir=old.workdir, backend="oci")
        log = new.log()
        assert f"session {reused}: not taken back: pid {impostor.pid} is another process now, not its holder" in log, log
        assert f"session {moved}: not taken back: take the lock of its host ids from its holder (pid {impostor.pid})" \
            in log, log
        assert "took back 1 session(s) a previous run left; destroyed 2" in log, log
        for sid in (reused, moved):
            assert_error(new.get(f"/v1/sessions/{sid}"), 404, "not_found")
            assert wait_for(lambda: not pid_alive(saved[sid]["backend_state"]["init_pid"]), 10)
        assert impostor.poll() is None, "warrend killed a process it did not own"
        assert new.exec(kept, cmd=["echo", "ok"])["stdout"] == "ok\n"
        stop_cleanly(new)
    finally:
        impostor.kill()
        impostor.wait()
    host_clean(host_before, new, old)
