"""Sessions of the oci backend outlive a restart of warrend (warrend(8)
RESTARTS): runc keeps the containers, a holder process keeps their host id
ranges locked while no daemon runs, and the next daemon on the same state
directory takes back every container it can prove its own; a container
removed meanwhile is not, and its record goes with a log line. Processes
run on: each one's exec waiter outlives the daemon holding its pipes, and
the next daemon takes them back. Real runc, real warrend, as root; the
host is checked after (hostcheck.host_clean)."""

import os
import signal
import subprocess

import pytest

from daemon_fixture import assert_error, pid_alive, start_daemon, wait_for, warrend  # noqa: F401 (fixtures)
from hostcheck import host_clean
from restart_sessions import (ENDS_ON_USR1, Sessions, first_ticks, kill_while_processes_run, records,
                              sigusr2_keeps_the_session, stdin_then_eof, ticks_past)
from test_daemon_processes import Stream, finished, post, proc, start
from test_faults import exec_request, in_background, stop_cleanly
from test_restart import (TICKER, create, ids_locked, impostor_process, impostor_spared_and_the_rest_serves,
                          last_words_outlive_the_restart, rewrite_record, session_ids, start_time)

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
    # the process runs on (test_processes_run_on_through_kill_9… follows it)
    assert proc(new, sessions.ticking, 1)["state"] == "running"

    # taken back, they outlive the next kill as well (the records the new
    # daemon wrote name the same holders)
    again = records(new)
    assert {rec["backend_state"]["holder_pid"] for rec in again.values()} <= holders
    new.kill()
    third = start_daemon(workdir=old.workdir, backend="oci")
    assert "took back 5 session(s) a previous run left; destroyed 0" in third.log(), third.log()
    sessions.assert_files(third)
    # the process too, taken back from a daemon that had taken it back
    assert proc(third, sessions.ticking, 1)["state"] == "running"
    kept = waiters(third, records(third)[sessions.ticking])
    assert kept and all(pid_alive(p) for p in kept), kept
    third.remove(mine[0])
    assert session_ids(third) == set(mine[1:3])

    stop_cleanly(third)
    assert wait_for(lambda: not [p for p in inits.values() if pid_alive(p)], 10), "containers outlived the stop"
    assert wait_for(lambda: not [p for p in holders if pid_alive(p)], 10), "holders of host ids outlived the stop"
    assert wait_for(lambda: not [p for p in kept if pid_alive(p)], 10), "exec waiters outlived the stop"
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
    with impostor_process() as impostor:
        def point_at_impostor(with_its_start_time):
            def change(rec):
                rec["backend_state"]["holder_pid"] = impostor.pid
                if with_its_start_time:
                    rec["backend_state"]["holder_start_time"] = start_time(impostor.pid)
            return change

        rewrite_record(old, reused, point_at_impostor(False))
        rewrite_record(old, moved, point_at_impostor(True))
        new = start_daemon(workdir=old.workdir, backend="oci")
        log = new.log()
        assert f"session {reused}: not taken back: pid {impostor.pid} is another process now, not its holder" in log, log
        assert f"session {moved}: not taken back: take the lock of its host ids from its holder (pid {impostor.pid})" \
            in log, log
        assert "took back 1 session(s) a previous run left; destroyed 2" in log, log
        for sid in (reused, moved):
            assert_error(new.get(f"/v1/sessions/{sid}"), 404, "not_found")
            assert wait_for(lambda: not pid_alive(saved[sid]["backend_state"]["init_pid"]), 10)
        impostor_spared_and_the_rest_serves(new, impostor, kept)
    host_clean(host_before, new, old)


# --- processes run on ------------------------------------------------------------------------


def bundle(d, rec):
    return os.path.join(d.state_dir, "oci-bundles", rec["backend_state"]["container"])


def waiters(d, rec):
    """The pids of the exec waiters of the kept commands of rec's container
    (oci-keep.c: each is recorded in the bundle)."""
    b = bundle(d, rec)
    out = set()
    for name in os.listdir(b):
        if name.endswith(".waiter"):
            with open(os.path.join(b, name)) as f:
                out.add(int(f.read().split()[0]))
    return out


def test_processes_run_on_through_kill_9_and_are_taken_back(start_daemon, host_before):
    """kill -9 of warrend with processes in an oci session: they run on
    while no daemon runs (one ends meanwhile), and the next daemon follows
    their output past what the old one saw, writes to their stdin (a
    terminal's too), closes it, signals them and reports the exit status of
    the one that ended; a command a request held is killed. The stop
    leaves no waiter behind."""
    old = start_daemon(backend="oci")
    sid = create(old)
    assert start(old, sid, cmd=["sh", "-c", TICKER])["pid"] == 1
    assert start(old, sid, cmd=["sh", "-c", 'echo ready; while read l; do echo "typed $l"; done'],
                 pty={"cols": 80, "rows": 24})["pid"] == 2
    assert start(old, sid, cmd=["sh", "-c", ENDS_ON_USR1])["pid"] == 3
    assert start(old, sid, cmd=["sh", "-c", 'while read l; do echo "got $l"; done; echo eof'], stdin=True)["pid"] == 4
    assert post(old, sid, 4, "stdin", {"data": "one\n"}).status_code == 200
    seen = first_ticks(old, sid, 1)
    s = Stream(old, sid, 4)
    s.until("got one")
    s.close()
    s = Stream(old, sid, 2)
    s.until("ready")
    s.close()
    held, _ = in_background(exec_request, old, sid, {"shell": "exec sleep 417"})
    assert wait_for(lambda: old.get(f"/v1/sessions/{sid}").json()["execs_running"] == 5, 30)
    rec = records(old)[sid]
    kept = waiters(old, rec)

    # while no daemon runs, the commands do; one ends
    kill_while_processes_run(old, held, kept)
    new = start_daemon(workdir=old.workdir, backend="oci")
    assert "took back 1 session(s) a previous run left; destroyed 0" in new.log(), new.log()
    assert "sleep 417" not in new.exec(sid, cmd=["ps", "-eo", "args"])["stdout"]

    # the one that ended meanwhile: its exit status (what it wrote after
    # the old daemon went is lost, as natively: its pipe went with it)
    result = finished(new, sid, 3)
    assert result["exit_code"] == 7 and not result.get("error"), result
    # the others run on: output, stdin, a terminal's keys, signals
    assert [proc(new, sid, p)["state"] for p in (1, 2, 4)] == ["running"] * 3
    ticks_past(new, sid, 1, seen)
    stdin_then_eof(new, sid, 4, "two")
    s = Stream(new, sid, 2)
    assert post(new, sid, 2, "stdin", {"data": "abc\n"}).status_code == 200
    s.until("typed abc")
    s.close()
    assert post(new, sid, 2, "signal", {"signal": "KILL"}).status_code == 200
    assert finished(new, sid, 2)["signal"] == 9
    assert post(new, sid, 1, "signal", {"signal": "TERM"}).status_code == 200
    assert finished(new, sid, 1)["signal"] == 15

    # new processes start as ever; the stop ends them and their waiters
    assert len(kept) == 4, kept
    assert start(new, sid, cmd=["sh", "-c", TICKER])["pid"] == 5
    kept |= waiters(new, records(new)[sid])
    stop_cleanly(new)
    assert wait_for(lambda: not [p for p in kept if pid_alive(p)], 10), "exec waiters outlived the stop"
    host_clean(host_before, new, old)


def test_a_process_runs_on_through_sigusr2(start_daemon, host_before):
    """The restart systemd asks for: the process lives on into the next
    daemon, which follows it and kills it."""
    old = start_daemon(backend="oci")
    sid = create(old)
    assert start(old, sid, cmd=["sh", "-c", TICKER])["pid"] == 1
    seen = first_ticks(old, sid, 1)
    kept = waiters(old, records(old)[sid])
    rc, _ = old.stop(signal.SIGUSR2)
    assert rc == 0, old.log()
    assert all(pid_alive(p) for p in kept), kept
    new = start_daemon(workdir=old.workdir, backend="oci")
    assert "took back 1 session(s)" in new.log(), new.log()
    assert proc(new, sid, 1)["state"] == "running"
    ticks_past(new, sid, 1, seen)
    assert post(new, sid, 1, "signal", {"signal": "KILL"}).status_code == 200
    assert finished(new, sid, 1)["signal"] == 9
    stop_cleanly(new)
    assert wait_for(lambda: not [p for p in kept if pid_alive(p)], 10), "exec waiters outlived the stop"
    host_clean(host_before, new, old)


def test_what_a_process_writes_as_it_ends_while_no_daemon_runs_is_kept(start_daemon, host_before):
    last_words_outlive_the_restart(start_daemon, host_before, "oci", terminal=True)
