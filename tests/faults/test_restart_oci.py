"""Sessions of the oci backend outlive a restart of warrend (warrend(8)
RESTARTS): runc keeps the containers, a holder process keeps their host id
ranges locked while no daemon runs, and the next daemon on the same state
directory takes back every container it can prove its own; a container
removed meanwhile is not, and its record goes with a log line. Real runc,
real warrend, as root; the host is checked after (hostcheck.host_clean)."""

import json
import os
import signal
import subprocess

import pytest
import requests

from daemon_fixture import assert_error, pid_alive, start_daemon, wait_for, warrend  # noqa: F401 (fixtures)
from hostcheck import host_clean
from test_daemon_processes import finished, proc, start
from test_faults import stop_cleanly
from test_restart import TICKER, create, ids_locked, record_path, session_ids, start_time

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the oci backend runs as root only")


def runc(d, *args):
    return subprocess.run(["runc", "--root", os.path.join(d.state_dir, "oci"), *args], capture_output=True,
                          text=True, timeout=60)


def records(d):
    return {rec["id"]: rec for rec in d.state_files()}


def test_kill_9_of_a_daemon_with_oci_sessions_then_restart_takes_them_back(start_daemon, host_before):
    old = start_daemon(backend="oci")
    tenant = old.add_token("tenant", "--max-sessions", "2")
    mine = [create(old) for _ in range(4)]
    theirs = [create(old, tenant) for _ in range(2)]
    files = {sid: os.urandom(2000 + i) for i, sid in enumerate(mine[:2])}
    for sid, data in files.items():
        r = old.http.put(f"{old.url}/v1/sessions/{sid}/files/dir/data.bin", data=data, timeout=60)
        assert r.status_code == 201, r.text
    ticking = mine[2]
    assert start(old, ticking, cmd=["sh", "-c", TICKER])["pid"] == 1
    assert wait_for(lambda: proc(old, ticking, 1)["state"] == "running", 30)
    gone = mine[3]
    saved = records(old)
    assert set(saved) == set(mine + theirs)
    # each session holds its container for the next daemon
    assert all(rec["kept"] and rec["backend_state"] for rec in saved.values()), (list(saved.values())[0], old.log())
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
    log = new.log()
    name = saved[gone]["backend_state"]["container"]
    assert f"session {gone}: not taken back: the runtime has no container {name}" in log, log
    assert "took back 5 session(s) a previous run left; destroyed 1" in log, log
    assert not os.path.exists(record_path(new, gone))
    assert_error(new.get(f"/v1/sessions/{gone}"), 404, "not_found")
    assert session_ids(new) == set(mine[:3]) and session_ids(new, tenant) == set(theirs)
    assert new.get("/v1/health").json()["sessions"] == 5
    # the tenant's count came back with its sessions: still at its cap
    assert_error(requests.post(f"{new.url}/v1/sessions", json={}, headers=tenant, timeout=60), 429, "capacity")
    r = requests.post(f"{new.url}/v1/sessions/{theirs[0]}/exec", json={"cmd": ["echo", "t"]}, headers=tenant,
                      timeout=60)
    assert r.status_code == 200 and r.json()["stdout"] == "t\n", r.text
    for sid in mine[:3]:
        assert new.exec(sid, shell=f"echo {sid}")["stdout"] == f"{sid}\n"
    for sid, data in files.items():
        got = new.get(f"/v1/sessions/{sid}/files/dir/data.bin")
        assert got.status_code == 200 and got.content == data, (sid, got.status_code)
    # the process the old daemon ran was killed, and says so
    result = finished(new, ticking, 1)
    assert result["signal"] == 9 and "do not outlive warrend" in result["error"], result
    assert "tick" not in new.exec(ticking, cmd=["ps", "-eo", "args"])["stdout"]
    assert start(new, ticking, cmd=["echo", "again"])["pid"] == 2
    assert finished(new, ticking, 2)["exit_code"] == 0

    # taken back, they outlive the next kill as well (the records the new
    # daemon wrote name the same holders)
    again = records(new)
    assert {rec["backend_state"]["holder_pid"] for rec in again.values()} <= holders
    new.kill()
    third = start_daemon(workdir=old.workdir, backend="oci")
    assert "took back 5 session(s) a previous run left; destroyed 0" in third.log(), third.log()
    for sid, data in files.items():
        assert third.get(f"/v1/sessions/{sid}/files/dir/data.bin").content == data
    third.remove(mine[0])
    assert session_ids(third) == set(mine[1:3])

    stop_cleanly(third)
    assert wait_for(lambda: not [p for p in inits.values() if pid_alive(p)], 10), "containers outlived the stop"
    assert wait_for(lambda: not [p for p in holders if pid_alive(p)], 10), "holders of host ids outlived the stop"
    assert not os.listdir(os.path.join(third.state_dir, "sessions"))
    host_clean(host_before, third, new, old)


def test_sigusr2_keeps_oci_sessions_and_removes_the_pool(start_daemon, host_before):
    """The restart systemd asks for: the session's container stays, with its
    files, for the next daemon; the pool's containers go with the old one."""
    old = start_daemon(backend="oci")
    sid = create(old)
    assert old.exec(sid, shell="echo kept > f")["exit_code"] == 0
    container = records(old)[sid]["backend_state"]["container"]
    rc, _ = old.stop(signal.SIGUSR2)
    assert rc == 0, old.log()
    listed = runc(old, "list", "-q").stdout.split()
    assert listed == [container], listed  # the pool's are gone, the session's runs on
    new = start_daemon(workdir=old.workdir, backend="oci")
    assert "took back 1 session(s) a previous run left; destroyed 0" in new.log(), new.log()
    assert new.exec(sid, cmd=["cat", "f"])["stdout"] == "kept\n"
    stop_cleanly(new)
    host_clean(host_before, new, old)  # (runc's state directory too: it is gone)


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
