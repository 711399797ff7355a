"""Sessions outlive a restart of warrend (warrend(8) RESTARTS): a SIGKILLed
daemon's sandboxes, their workspaces and their processes are taken back by
the next one on the same state directory; what it cannot prove its own is
destroyed, saying why; every test ends with the host checked
(hostcheck.host_clean)."""

import contextlib
import errno
import fcntl
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from daemon_fixture import assert_error, pid_alive, start_daemon, wait_for, warrend  # noqa: F401 (fixtures)
from hostcheck import host_clean
from test_daemon_processes import Stream, finished, output_of, post, proc, start, text_of
from test_faults import exec_request, in_background, stop_cleanly
from warrentest import leftovers, sandbox_processes

TICKER = "i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.1; done"


def create(d, headers=None):
    r = requests.post(f"{d.url}/v1/sessions", json={}, headers=headers or d.auth, timeout=60)
    assert r.status_code == 201, (r.status_code, r.text)
    return r.json()["id"]


def record_path(d, sid):
    return os.path.join(d.state_dir, "sessions", f"{sid}.json")


def start_time(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


def session_ids(d, headers=None):
    r = requests.get(f"{d.url}/v1/sessions", headers=headers or d.auth, timeout=60)
    assert r.status_code == 200, r.text
    return {s["id"] for s in r.json()["sessions"]}


def ids_locked(ids):
    """Whether someone holds the lock of these host ids (userns.h: byte N of
    the lock file is host id N)."""
    with open("/run/warren/uid-ranges.lock", "rb+") as f:
        try:
            fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB, ids["count"], ids["base"])
        except OSError as e:
            assert e.errno in (errno.EACCES, errno.EAGAIN), e
            return True
        fcntl.lockf(f, fcntl.LOCK_UN, ids["count"], ids["base"])
        return False


def last_tick(events):
    ticks = [int(w) for w in output_of(events).split() if w.isdigit()]
    return ticks[-1] if ticks else -1


# --- kill -9 with 50 sessions -------------------------------------------------------------


def test_kill_9_with_50_sessions_then_restart_takes_every_one_back(start_daemon, host_before):
    old = start_daemon()
    tenant = old.add_token("tenant", "--max-sessions", "5")
    with ThreadPoolExecutor(8) as pool:
        mine = list(pool.map(lambda _: create(old), range(45)))
        theirs = list(pool.map(lambda _: create(old, tenant), range(5)))
    assert_error(requests.post(f"{old.url}/v1/sessions", json={}, headers=tenant, timeout=60), 429, "capacity")
    # 10 with a process (half with a terminal), 10 with files in their workspace
    ticking = mine[:10]
    for i, sid in enumerate(ticking):
        extra = {"pty": {"cols": 80, "rows": 24}} if i % 2 else {}
        assert start(old, sid, cmd=["sh", "-c", TICKER], **extra)["pid"] == 1
    files = {sid: os.urandom(3000 + i) for i, sid in enumerate(mine[10:20])}
    for sid, data in files.items():
        r = old.http.put(f"{old.url}/v1/sessions/{sid}/files/dir/data.bin", data=data, timeout=60)
        assert r.status_code == 201, r.text
    before = {}
    for sid in ticking:
        s = Stream(old, sid, 1)
        before[sid] = last_tick(s.until(r"tick [1-9]"))
        s.close()
    old.record_init_pids()
    inits = set(old.init_pids)
    assert len(inits) == 50

    old.kill()

    # The sandboxes outlive their daemon, and keep their host ids locked: no
    # other sandbox (warren run, another daemon) may take them meanwhile.
    assert all(pid_alive(p) for p in inits), [p for p in inits if not pid_alive(p)]
    for rec in old.state_files()[:5]:
        assert ids_locked(rec["backend_state"]["host_ids"]), rec["backend_state"]
    new = start_daemon(workdir=old.workdir)
    assert "took back 50 session(s) a previous run left; destroyed 0" in new.log(), new.log()
    assert session_ids(new) == set(mine) and session_ids(new, tenant) == set(theirs)
    assert new.get("/v1/health").json()["sessions"] == 50
    # the tenant's count came back with its sessions: still at its cap
    assert_error(requests.post(f"{new.url}/v1/sessions", json={}, headers=tenant, timeout=60), 429, "capacity")
    r = requests.post(f"{new.url}/v1/sessions/{theirs[0]}/exec", json={"cmd": ["echo", "t"]}, headers=tenant,
                      timeout=60)
    assert r.status_code == 200 and r.json()["stdout"] == "t\n", r.text

    def answers(sid):
        return new.exec(sid, shell=f"echo {sid}")["stdout"] == f"{sid}\n"

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(answers, mine))
    for sid, data in files.items():
        got = new.get(f"/v1/sessions/{sid}/files/dir/data.bin")
        assert got.status_code == 200 and got.content == data, (sid, got.status_code)
    for sid in ticking:
        p = proc(new, sid, 1)
        assert p["state"] == "running", p
        # the process lived on: its output goes on past what the old daemon saw
        s = Stream(new, sid, 1)
        events = s.until(r"tick \d+")
        while last_tick(events) <= before[sid]:
            events += s.until(r"tick \d+")
        s.close()
        assert new.post(f"/v1/sessions/{sid}/processes/1/signal", {"signal": "TERM"}).status_code == 200
        result = finished(new, sid, 1)
        assert result["signal"] == 15 or result["exit_code"] == 129, result  # a terminal's shell sees SIGHUP
    new.remove(mine[0])
    assert session_ids(new) == set(mine[1:])

    stop_cleanly(new)
    assert not [p for p in inits if pid_alive(p)], "sandboxes outlived the final stop"
    host_clean(host_before, new, old)


# --- what cannot be proven ours ---------------------------------------------------------


def rewrite_record(d, sid, change):
    path = record_path(d, sid)
    with open(path) as f:
        rec = json.load(f)
    change(rec)
    with open(path, "w") as f:
        json.dump(rec, f)


@contextlib.contextmanager
def impostor_process():
    """An unrelated process whose pid a test writes into records where a
    sandbox's process should be; killed at the end, whatever happened."""
    impostor = subprocess.Popen(["sleep", "300"])
    try:
        yield impostor
    finally:
        impostor.kill()
        impostor.wait()


def impostor_spared_and_the_rest_serves(new, impostor, kept):
    """After a start that refused the records naming the impostor: that
    process lives on, the session taken back answers, and the daemon
    stops cleanly."""
    assert impostor.poll() is None, "warrend killed a process it did not own"
    assert new.exec(kept, cmd=["echo", "ok"])["stdout"] == "ok\n"
    stop_cleanly(new)


def test_a_record_whose_pid_is_another_process_is_not_taken_back(start_daemon, host_before):
    old = start_daemon()
    kept, reused, moved = create(old), create(old), create(old)
    real = {sid: old.init_pid(sid) for sid in (reused, moved)}
    old.kill()
    with impostor_process() as impostor:
        # reused: the pid is another process's now (another start time);
        # moved: even with that process's start time, it is not in the sandbox's cgroup
        def point_at_impostor(with_its_start_time):
            def change(rec):
                rec["init_pid"] = rec["backend_state"]["init_pid"] = impostor.pid
                if with_its_start_time:
                    rec["backend_state"]["init_start_time"] = start_time(impostor.pid)
            return change

        rewrite_record(old, reused, point_at_impostor(False))
        rewrite_record(old, moved, point_at_impostor(True))
        new = start_daemon(workdir=old.workdir)
        log = new.log()
        assert f"session {reused}: not taken back: pid {impostor.pid} is another process now" in log, log
        assert f"session {moved}: not taken back: pid {impostor.pid} is not in the sandbox's cgroup" in log, log
        assert new.get(f"/v1/sessions/{kept}").status_code == 200
        for sid in (reused, moved):
            assert_error(new.get(f"/v1/sessions/{sid}"), 404, "not_found")
            assert not os.path.exists(record_path(new, sid))
        # the sandboxes the records named are destroyed, the unrelated process untouched
        assert wait_for(lambda: not any(pid_alive(p) for p in real.values()), 10), real
        impostor_spared_and_the_rest_serves(new, impostor, kept)
    host_clean(host_before, new, old)


def test_a_corrupted_record_is_skipped_and_its_sandbox_destroyed(start_daemon, host_before):
    old = start_daemon()
    good, bad = create(old), create(old)
    assert old.exec(good, shell="echo kept > f")["exit_code"] == 0
    bad_init = old.init_pid(bad)
    old.kill()
    with open(record_path(old, bad), "w") as f:
        f.write('{"version": 1, "id": "' + bad[:10])  # cut short
    new = start_daemon(workdir=old.workdir)
    assert f"session record {bad}.json is corrupted" in new.log(), new.log()
    assert_error(new.get(f"/v1/sessions/{bad}"), 404, "not_found")
    assert not os.path.exists(record_path(new, bad))
    assert wait_for(lambda: not pid_alive(bad_init), 10), "the corrupted record's sandbox was not destroyed"
    assert new.exec(good, cmd=["cat", "f"])["stdout"] == "kept\n"
    stop_cleanly(new)
    host_clean(host_before, new, old)


# --- restarts while the daemon works ------------------------------------------------------


def test_restart_during_a_pool_refill_leaves_no_orphan(start_daemon, host_before):
    new = None
    for _ in range(3):
        old = start_daemon("--pool-size", "8", pool_ready=False, workdir=new.workdir if new else None)
        sid = create(old)
        for _ in range(3):  # the pool refills what these take, a few at a time
            old.remove(create(old))
        old_pid = old.proc.pid
        old.kill()
        new = start_daemon("--pool-size", "8", workdir=old.workdir)
        assert new.get(f"/v1/sessions/{sid}").status_code == 200
        # what the old daemon was creating, and its idle sandboxes, are gone
        assert not old.cgroups(old_pid), old.cgroups(old_pid)
        new.remove(sid)
        stop_cleanly(new)
        # (killed a moment ago, they may still be exiting)
        assert wait_for(lambda: not leftovers(host_before)[0], 10), leftovers(host_before)
    host_clean(host_before, new)


def test_sigusr2_answers_buffered_execs_and_keeps_processes(start_daemon, host_before):
    """The restart systemd asks for (warrend --stop under a restart job):
    a buffered exec's client is told why its command ended, which is
    killed; a process lives on into the next daemon."""
    old = start_daemon()
    sid = create(old)
    start(old, sid, cmd=["sh", "-c", TICKER])
    t, outcome = in_background(exec_request, old, sid, {"shell": "exec sleep 417"})
    assert wait_for(lambda: old.get(f"/v1/sessions/{sid}").json()["execs_running"] == 2, 10)
    rc, _ = old.stop(signal.SIGUSR2)
    assert rc == 0, old.log()
    t.join(10)
    status, body = outcome["reply"]
    r = json.loads(body)
    assert status == 200 and r["signal"] == 9 and "warrend is restarting" in r["error"], outcome
    new = start_daemon(workdir=old.workdir)
    assert "took back 1 session(s)" in new.log(), new.log()
    assert "sleep 417" not in new.exec(sid, cmd=["ps", "-eo", "args"])["stdout"]
    assert proc(new, sid, 1)["state"] == "running"
    stop_cleanly(new)
    host_clean(host_before, new, old)


def test_a_process_stdin_stays_open_through_a_restart(start_daemon, host_before):
    """A process started with "stdin": true reads on after warrend is
    killed -9 (the sandbox's init holds a copy of its stdin meanwhile):
    lines written before and after arrive, and closing stdin, once, is its
    end-of-file."""
    old = start_daemon()
    sid = create(old)
    pid = start(old, sid, cmd=["sh", "-c", 'while read l; do echo "got $l"; done; echo eof'], stdin=True)["pid"]
    assert post(old, sid, pid, "stdin", {"data": "one\n"}).status_code == 200
    s = Stream(old, sid, pid)
    s.until("got one")
    s.close()
    old.kill()
    new = start_daemon(workdir=old.workdir)
    assert "took back 1 session(s)" in new.log(), new.log()
    assert proc(new, sid, pid)["stdin"] is True and proc(new, sid, pid)["state"] == "running"
    s = Stream(new, sid, pid)
    assert post(new, sid, pid, "stdin", {"data": "two\n"}).status_code == 200
    s.until("got two")
    assert post(new, sid, pid, "close-stdin").status_code == 200
    s.until("eof")
    s.close()
    assert finished(new, sid, pid)["exit_code"] == 0
    stop_cleanly(new)
    host_clean(host_before, new, old)


def running(fragment):
    """The host pids of the processes with `fragment` in their command line."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if fragment.encode() in f.read():
                    out.append(int(pid))
        except OSError:
            pass
    return out


LAST_WORDS = 'echo ready; trap "echo last words; echo and an error >&2; exit 7" USR1; while :; do sleep 0.1; done'


def last_words_outlive_the_restart(start_daemon, host_before, backend, terminal):
    """kill -9 of warrend with processes (one with a terminal, where the
    backend has them) that write their last output and end while no daemon
    runs: the next daemon reads that output and reports their exit status."""
    old = start_daemon(backend=backend)
    sid = create(old)
    pids = [start(old, sid, cmd=["sh", "-c", LAST_WORDS])["pid"]]
    if terminal:
        pids.append(start(old, sid, cmd=["sh", "-c", LAST_WORDS], pty={"cols": 80, "rows": 24})["pid"])
    for pid in pids:
        s = Stream(old, sid, pid)
        s.until("ready")
        s.close()
    old.kill()
    for pid in running("last words"):
        os.kill(pid, signal.SIGUSR1)
    assert wait_for(lambda: not running("last words"), 30)
    new = start_daemon(workdir=old.workdir, backend=backend)
    assert "took back 1 session(s) a previous run left; destroyed 0" in new.log(), new.log()
    for pid in pids:
        said = output_of(Stream(new, sid, pid).events())
        assert "last words" in said and "and an error" in said, (pid, said)
        result = finished(new, sid, pid)
        assert result["exit_code"] == 7 and not result.get("error"), result
    stop_cleanly(new)
    host_clean(host_before, new, old)


def test_what_a_process_writes_as_it_ends_while_no_daemon_runs_is_kept(start_daemon, host_before):
    last_words_outlive_the_restart(start_daemon, host_before, "native", terminal=True)


def test_drain_waits_for_the_sessions_to_end(start_daemon, host_before):
    d = start_daemon()
    sid = create(d)
    drain = subprocess.Popen([d.binary, "--drain", "--config", os.path.join(d.workdir, "warrend.conf"),
                              "--state-dir", d.state_dir], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert wait_for(lambda: d.get("/v1/health").json()["status"] == "draining", 10), d.log()
        assert_error(d.post("/v1/sessions", {}), 503, "unavailable", "shutting down")
        # the session still serves its client
        assert d.exec(sid, cmd=["echo", "still"])["stdout"] == "still\n"
        assert drain.poll() is None and d.running
        d.remove(sid)
        assert drain.wait(30) == 0, drain.stdout.read()
        rc, _ = d.stop()
        assert rc == 0, d.log()
    finally:
        if drain.poll() is None:
            drain.kill()
            drain.wait()
    host_clean(host_before, d)


# --- systemd's ExecStop and the unit ------------------------------------------------------


def test_stop_without_a_restart_job_ends_the_sessions(start_daemon, host_before):
    """`warrend --stop=PID` is the unit's ExecStop: with no systemd restart
    job under way (here: no systemd at all) it is a stop, and the sessions
    end; an empty PID (the daemon crashed) touches nothing."""
    d = start_daemon()
    sid = create(d)
    init = d.init_pid(sid)
    conf = os.path.join(d.workdir, "warrend.conf")
    r = subprocess.run([d.binary, "--config", conf, "--stop="], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and d.running and pid_alive(init), r
    r = subprocess.run([d.binary, "--config", conf, f"--stop={d.proc.pid}"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r
    assert "a stop: ending the sessions of warrend" in r.stderr, r.stderr
    rc, _ = d.stop()
    assert rc == 0, d.log()
    assert "drained, exiting" in d.log(), d.log()
    assert wait_for(lambda: not pid_alive(init), 10)
    host_clean(host_before, d)


def test_the_unit_keeps_sandboxes_on_restart_and_is_valid():
    """The unit as built (beside $WARREND): what warrend(8) SYSTEMD says of
    restart and stop. (No systemd runs on the CI hosts: the behaviour of
    --stop is the test above's, and SIGUSR2's test_sigusr2_….)"""
    unit = os.path.join(os.path.dirname(os.environ.get("WARREND") or os.path.join(
        os.path.dirname(__file__), "..", "..", "_build", "warrend")), "systemd", "warrend.service")
    assert os.path.exists(unit), f"no built unit at {unit}"
    with open(unit) as f:
        lines = {line.split("=", 1)[0]: line.strip().split("=", 1)[1] for line in f if "=" in line and
                 not line.startswith("#")}
    # systemd signals only the daemon; ExecStop tells a restart (SIGUSR2) from a stop (SIGTERM)
    assert lines["KillMode"] == "process", lines
    assert lines["ExecStop"].endswith("/warrend --stop=${MAINPID}"), lines
    assert lines["RuntimeDirectoryPreserve"] == "restart", lines
    assert lines["ExecReload"] == "/bin/kill -HUP $MAINPID", lines
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        pytest.skip("no systemd-analyze to check the unit's syntax")
    r = subprocess.run([analyze, "verify", unit], capture_output=True, text=True, timeout=60)
    complaints = [l for l in (r.stdout + r.stderr).splitlines() if "is not executable" not in l and l.strip()]
    assert r.returncode == 0 and not complaints, r

