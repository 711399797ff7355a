"""Sessions of the docker backend outlive a restart of warrend (warrend(8)
RESTARTS): the engine keeps the containers, and the next daemon on the same
state directory takes back every one whose engine id, name, label and init
match its record; what does not match is removed with a log line, and a
SIGTERM stop still removes them all. The real engine (podman's Docker API,
tests/backends/prepare), real warrend, as root; the host is checked after
(hostcheck.host_clean)."""

import os
import re

import pytest

from daemon_fixture import assert_error, start_daemon, wait_for, warrend  # noqa: F401 (fixtures)
from hostcheck import host_clean
from restart_sessions import Sessions, records, sigusr2_keeps_the_session
from test_faults import stop_cleanly
from test_restart import create, record_path, rewrite_record, session_ids
from warrentest import docker_api

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the tests' docker engine runs as root only")

# a process of the sandbox's own that outlives the command that started it
BACKGROUND = "nohup sh -c 'i=0; while :; do echo $i >> bg.log; i=$((i+1)); sleep 0.1; done' >/dev/null 2>&1 &"


def container(rec):
    """The engine's inspect of the container a record names, or None."""
    status, body = docker_api("GET", f"/containers/{rec['backend_state']['id']}/json")
    assert status in (200, 404), (status, body)
    return body if status == 200 else None


def ours(d):
    """The names of the engine's containers of this state directory."""
    status, listed = docker_api("GET", "/containers/json?all=1")
    assert status == 200, listed
    label = os.path.join(d.state_dir, "docker")
    return {c["Names"][0].lstrip("/") for c in listed if (c.get("Labels") or {}).get("io.warren.state") == label}


def lines(d, sid, path):
    return len(d.exec(sid, cmd=["cat", path])["stdout"].split())


def test_kill_9_of_a_daemon_with_docker_sessions_then_restart_takes_them_back(start_daemon, host_before):
    old = start_daemon(backend="docker")
    sessions = Sessions(old)
    saved, gone, mine, theirs = sessions.saved, sessions.gone, sessions.mine, sessions.theirs
    # a process that outlives its command, in a session with files
    assert old.exec(mine[1], shell=BACKGROUND)["exit_code"] == 0
    names = {sid: rec["backend_state"]["container"] for sid, rec in saved.items()}
    assert all(container(rec)["Config"]["Labels"]["io.warren.state"] == os.path.join(old.state_dir, "docker")
               for rec in saved.values())

    old.kill()

    # the engine keeps them running
    assert all(container(rec)["State"]["Running"] for rec in saved.values())
    # one container is removed behind the daemon's back
    status, body = docker_api("DELETE", f"/containers/{saved[gone]['backend_state']['id']}?force=1")
    assert status in (200, 204), body

    new = start_daemon(workdir=old.workdir, backend="docker")
    sessions.assert_taken_back(new, f"the engine has no container {names[gone]}")
    # the background process went on writing through the restart
    n = lines(new, mine[1], "bg.log")
    assert wait_for(lambda: lines(new, mine[1], "bg.log") > n, 10), "the background process did not survive"
    sessions.assert_ticker_killed(new, "the docker backend's commands do not outlive warrend")

    # taken back, they outlive the next kill as well, renamed after the
    # daemon that holds them (what other daemons' sweeps spare)
    new.kill()
    third = start_daemon(workdir=old.workdir, backend="docker")
    assert "took back 5 session(s) a previous run left; destroyed 0" in third.log(), third.log()
    again = records(third)
    assert set(again) == set(mine[:3] + theirs)
    for sid, rec in again.items():
        assert rec["backend_state"]["id"] == saved[sid]["backend_state"]["id"]
        assert container(rec)["Name"].lstrip("/") == rec["backend_state"]["container"]
        assert rec["backend_state"]["container"].startswith(f"wd-{third.proc.pid}-k"), rec["backend_state"]
    sessions.assert_files(third)
    third.remove(mine[0])
    assert session_ids(third) == set(mine[1:3])

    # a stop (no restart) removes every container, kept ones included
    stop_cleanly(third)
    assert not ours(third), ours(third)
    host_clean(host_before, third, new, old)


def test_records_that_do_not_match_their_container_are_not_taken_back(start_daemon, host_before):
    """A record that names another container of ours (or a container whose
    name or label is not the recorded one) proves nothing: that container
    is left to its own record, the record's own is removed. A container
    stopped meanwhile is removed, not taken back; one that still has the
    name it was created with (the daemon died before the engine renamed it)
    is taken back. A corrupted record is skipped, and its container removed
    with what the previous daemon left."""
    old = start_daemon(backend="docker")
    kept, swapped, corrupted, stopped, unrenamed = (create(old) for _ in range(5))
    assert old.exec(kept, shell="echo kept > f")["exit_code"] == 0
    saved = records(old)
    old.kill()
    status, body = docker_api("POST", f"/containers/{saved[stopped]['backend_state']['id']}/stop?t=0")
    assert status in (204, 304), body
    # as if the daemon had died before the engine renamed the container to its kept name
    state = saved[unrenamed]["backend_state"]
    status, body = docker_api("POST", f"/containers/{state['id']}/rename?name={state['created_as']}")
    assert status == 204, body
    rewrite_record(old, swapped, lambda rec: rec["backend_state"].update(id=saved[kept]["backend_state"]["id"]))
    with open(record_path(old, corrupted), "w") as f:
        f.write('{"version": 1, "id": "' + corrupted[:10])  # cut short
    new = start_daemon(workdir=old.workdir, backend="docker")
    log = new.log()
    name = saved[swapped]["backend_state"]["container"]
    # (named after the old daemon or, taken back already, the new one)
    assert re.search(f"session {swapped}: not taken back: container {saved[kept]['backend_state']['id'][:12]} "
                     f"is named wd-[0-9]+-k[0-9a-f]+-[0-9]+, not {name}", log), log
    assert f"session {stopped}: not taken back: container {saved[stopped]['backend_state']['container']} is not " \
        "running" in log, log
    assert f"session record {corrupted}.json is corrupted" in log, log
    assert "took back 2 session(s) a previous run left; destroyed 2 it could not take back; skipped 1 corrupted" \
        in log, log
    for sid in (swapped, corrupted, stopped):
        assert_error(new.get(f"/v1/sessions/{sid}"), 404, "not_found")
        assert not os.path.exists(record_path(new, sid))
        assert container(saved[sid]) is None, f"the container of {sid} was left behind"
    # the container the swapped record named is its own session's, untouched
    assert new.exec(kept, cmd=["cat", "f"])["stdout"] == "kept\n"
    # the one under the name it was created with is taken back, and renamed
    assert new.exec(unrenamed, cmd=["echo", "ok"])["stdout"] == "ok\n"
    assert container(saved[unrenamed])["Name"].lstrip("/").startswith(f"wd-{new.proc.pid}-k")
    stop_cleanly(new)
    assert not ours(new), ours(new)
    host_clean(host_before, new, old)


def test_sigusr2_keeps_docker_sessions_and_removes_the_pool(start_daemon, host_before):
    sigusr2_keeps_the_session(start_daemon, host_before, "docker", ours)
