"""Sessions of the docker backend outlive a restart of warrend (warrend(8)
RESTARTS): the engine keeps the containers, and the next daemon on the same
state directory takes back every one whose engine id, name, label and init
match its record; what does not match is removed with a log line, and a
SIGTERM stop still removes them all. Processes run on: each one's client of
the engine outlives the daemon holding its pipes, and the next daemon takes
them back. The real engine (podman's Docker API, tests/backends/prepare),
real warrend, as root; the host is checked after (hostcheck.host_clean)."""

import os
import re
import signal

import pytest

from daemon_fixture import assert_error, pid_alive, start_daemon, wait_for, warrend  # noqa: F401 (fixtures)
from hostcheck import host_clean
from restart_sessions import (ENDS_ON_USR1, Sessions, first_ticks, kill_while_processes_run, records,
                              sigusr2_keeps_the_session, stdin_then_eof, ticks_past)
from test_daemon_processes import Stream, finished, post, proc, start
from test_faults import exec_request, in_background, stop_cleanly
from test_restart import TICKER, create, last_words_outlive_the_restart, record_path, rewrite_record, session_ids
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
    # the background process went on writing through the restart, and the
    # process runs on (test_processes_run_on_through_kill_9… follows it)
    n = lines(new, mine[1], "bg.log")
    assert wait_for(lambda: lines(new, mine[1], "bg.log") > n, 10), "the background process did not survive"
    assert proc(new, sessions.ticking, 1)["state"] == "running"

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
    assert proc(third, sessions.ticking, 1)["state"] == "running"
    kept = clients(third)
    assert len(kept) == 1 and all(pid_alive(p) for p in kept), kept
    third.remove(mine[0])
    assert session_ids(third) == set(mine[1:3])

    # a stop (no restart) removes every container, kept ones included
    stop_cleanly(third)
    assert not ours(third), ours(third)
    assert wait_for(lambda: not [p for p in kept if pid_alive(p)], 10), "clients outlived the stop"
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


# --- processes run on ------------------------------------------------------------------------


def clients(d):
    """The pids of the clients of the kept commands of d's containers
    (backend-docker-keep.c: each writes its own into its info file)."""
    out = set()
    info = os.path.join(d.state_dir, "docker")
    for name in os.listdir(info):
        if re.fullmatch(r"wd-[0-9a-z-]+\.[0-9]+", name):
            with open(os.path.join(info, name)) as f:
                out |= {int(line.split()[1]) for line in f if line.startswith("client ")}
    return out


def test_processes_run_on_through_kill_9_and_are_taken_back(start_daemon, host_before):
    """kill -9 of warrend with processes in a docker session: they run on
    while no daemon runs (one ends meanwhile), and the next daemon follows
    their output past what the old one saw, writes to their stdin, closes
    it, kills one and reports the exit status of the one that ended; a
    command a request held is killed. Taken back twice (the second restart
    by SIGUSR2, from a daemon that had taken them back). The stop leaves no
    client behind."""
    old = start_daemon(backend="docker")
    sid = create(old)
    assert start(old, sid, cmd=["sh", "-c", TICKER])["pid"] == 1
    assert start(old, sid, cmd=["sh", "-c", ENDS_ON_USR1])["pid"] == 2
    assert start(old, sid, cmd=["sh", "-c", 'while read l; do echo "got $l"; done; echo eof'], stdin=True)["pid"] == 3
    assert post(old, sid, 3, "stdin", {"data": "one\n"}).status_code == 200
    seen = first_ticks(old, sid, 1)
    s = Stream(old, sid, 3)
    s.until("got one")
    s.close()
    held, _ = in_background(exec_request, old, sid, {"shell": "exec sleep 417"})
    assert wait_for(lambda: old.get(f"/v1/sessions/{sid}").json()["execs_running"] == 4, 30)
    kept = clients(old)
    assert len(kept) == 3, kept

    # while no daemon runs, the commands do; one ends
    kill_while_processes_run(old, held, kept)
    new = start_daemon(workdir=old.workdir, backend="docker")
    assert "took back 1 session(s) a previous run left; destroyed 0" in new.log(), new.log()
    assert wait_for(lambda: "sleep 417" not in new.exec(sid, cmd=["ps", "-eo", "args"])["stdout"], 10)

    # the one that ended meanwhile: its exit status
    result = finished(new, sid, 2)
    assert result["exit_code"] == 7 and not result.get("error"), result
    # the others run on: output and stdin
    assert [proc(new, sid, p)["state"] for p in (1, 3)] == ["running"] * 2
    seen = ticks_past(new, sid, 1, seen)
    s = Stream(new, sid, 3)
    assert post(new, sid, 3, "stdin", {"data": "two\n"}).status_code == 200
    s.until("got two")
    s.close()

    # and again, from the daemon that took them back (their files renamed after it)
    rc, _ = new.stop(signal.SIGUSR2)
    assert rc == 0, new.log()
    assert all(pid_alive(p) for p in clients(new)), clients(new)
    third = start_daemon(workdir=old.workdir, backend="docker")
    assert "took back 1 session(s) a previous run left; destroyed 0" in third.log(), third.log()
    ticks_past(third, sid, 1, seen)
    stdin_then_eof(third, sid, 3, "three")
    assert post(third, sid, 1, "signal", {"signal": "KILL"}).status_code == 200
    assert finished(third, sid, 1)["signal"] == 9

    # new processes start as ever; the stop ends them and their clients
    assert start(third, sid, cmd=["sh", "-c", TICKER])["pid"] == 4
    kept |= clients(third)
    stop_cleanly(third)
    assert not ours(third), ours(third)
    assert wait_for(lambda: not [p for p in kept if pid_alive(p)], 10), "clients outlived the stop"
    host_clean(host_before, third, new, old)


def test_what_a_process_writes_as_it_ends_while_no_daemon_runs_is_kept(start_daemon, host_before):
    last_words_outlive_the_restart(start_daemon, host_before, "docker", terminal=False)
