"""warrend's spawner (issue 12): sandboxes are cloned by a small helper
process the daemon starts before any client, not from the daemon itself.

What users rely on: a sandbox's init holds nothing of the daemon (other
tenants' data), the daemon's file table does not grow by more than one fd per
session (so a host's fd limit holds 10,000), and a spawner that dies is
replaced, or, when it keeps dying, the daemon says so instead of hanging.
"""

import os
import re
import signal

from daemon_fixture import assert_error, pid_alive, start_daemon, wait_for, warrend  # noqa: F401 (fixtures)


def children(pid):
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                comm, rest = f.read().rsplit(")", 1)
        except OSError:
            continue
        if int(rest.split()[1]) == pid:
            out.append((int(name), comm.split("(", 1)[1]))
    return out


def spawner_of(d):
    found = [pid for pid, comm in children(d.proc.pid) if comm == "warren-spawner" and pid_alive(pid)]
    assert len(found) == 1, f"warrend {d.proc.pid} has {len(found)} spawners: {children(d.proc.pid)}"
    return found[0]


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def memory_holds(pid, needle):
    """True if any writable mapping of pid holds the bytes (root reads
    /proc/PID/mem of any process, a non-dumpable one too)."""
    with open(f"/proc/{pid}/maps") as f:
        regions = [line.split() for line in f]
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for fields in regions:
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if "w" not in fields[1] or end - start > 256 << 20:
                continue
            try:
                mem.seek(start)
                if needle in mem.read(end - start):
                    return True
            except OSError:
                continue  # a guard page, a mapping gone meanwhile
    return False


def test_inits_are_the_daemons_children_cloned_by_its_spawner(start_daemon):
    d = start_daemon("--pool-size", "0")
    spawner = spawner_of(d)
    assert fd_count(spawner) <= 8, f"the spawner holds {fd_count(spawner)} fds: {os.listdir(f'/proc/{spawner}/fd')}"
    sids = [d.create()["id"] for _ in range(3)]
    for sid in sids:
        init = d.init_pid(sid)
        with open(f"/proc/{init}/stat") as f:
            ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        # the daemon reaps it (CLONE_PARENT): a spawner's death takes no session along
        assert ppid == d.proc.pid, f"init {init} of {sid} is the child of {ppid}, not of warrend {d.proc.pid}"
        # only its socket, its signalfd and stdio, and (a session holds it: it outlives
        # warrend, warrend(8) RESTARTS) its control socket and its host ids' lock:
        # nothing of the daemon's file table
        assert fd_count(init) <= 8, f"init {init} holds {os.listdir(f'/proc/{init}/fd')}"
        assert d.exec(sid, cmd=["true"])["exit_code"] == 0
    for sid in sids:
        d.remove(sid)


def test_an_init_holds_nothing_of_the_daemon(start_daemon):
    """Before the spawner an init was a fork of warrend: a copy of its heap,
    with every other session's id and the data that passed through it."""
    d = start_daemon("--pool-size", "0")
    a = d.create()["id"]
    secret = "warren-secret-" + os.urandom(12).hex()
    r = d.exec(a, cmd=["sh", "-c", "echo $SECRET"], env={"SECRET": secret})
    assert r["stdout"] == secret + "\n"
    b = d.create()["id"]  # cloned now, with session a alive in the daemon
    init = d.init_pid(b)
    assert memory_holds(d.proc.pid, a.encode()), "the check itself: the daemon holds session a's id"
    assert not memory_holds(init, a.encode()), f"the init of session {b} holds another session's id"
    assert not memory_holds(init, secret.encode()), f"the init of session {b} holds another session's data"
    d.remove(a)
    d.remove(b)


def test_the_daemon_keeps_one_fd_per_idle_session(start_daemon):
    d = start_daemon("--pool-size", "0")
    before = fd_count(d.proc.pid)
    sids = [d.create()["id"] for _ in range(20)]
    grown = fd_count(d.proc.pid) - before
    assert grown <= 20 + 2, f"20 sessions took {grown} fds of the daemon: {sorted(os.listdir(f'/proc/{d.proc.pid}/fd'))}"
    for sid in sids:
        d.remove(sid)


def kill_spawner(d):
    pid = spawner_of(d)
    os.kill(pid, signal.SIGKILL)
    # its socket closes as it exits; it stays a zombie until warrend reaps it
    assert wait_for(lambda: not pid_alive(pid), 10), f"the spawner {pid} did not die"
    return pid


def test_a_spawner_that_dies_is_replaced(start_daemon):
    d = start_daemon("--pool-size", "0")
    kept = d.create()["id"]
    old = kill_spawner(d)
    sid = d.create()["id"]  # the daemon notices, restarts it and asks the new one
    assert d.exec(sid, cmd=["echo", "new"])["stdout"] == "new\n"
    assert d.exec(kept, cmd=["echo", "kept"])["stdout"] == "kept\n", "a session died with the spawner"
    new = spawner_of(d)
    assert new != old
    log = d.log()
    assert f"the spawner (pid {old}) is gone" in log and f"spawner restarted (pid {new})" in log, log
    d.remove(sid)
    d.remove(kept)


def test_a_spawner_that_keeps_dying_makes_the_native_backend_unhealthy(start_daemon):
    d = start_daemon("--pool-size", "0")
    sid = d.create()["id"]
    for round in range(5):
        kill_spawner(d)
        r = d.post("/v1/sessions", {}, timeout=30)
        if round < 4:
            assert r.status_code == 201, (round, r.status_code, r.text)
            d.remove(r.json()["id"])
    # the fifth death: no sixth spawner, and every create says why
    assert_error(r, 503, "unavailable", "the spawner died 5 times")
    assert not [pid for pid, comm in children(d.proc.pid) if comm == "warren-spawner" and pid_alive(pid)]

    def native_unhealthy():
        h = d.get("/v1/health").json()["backends"]["native"]
        return not h["healthy"] and "spawner" in h.get("error", "")
    assert wait_for(native_unhealthy, 30), d.get("/v1/health").json()
    # the daemon itself serves on: the session it had still runs commands
    assert d.exec(sid, cmd=["echo", "still"])["stdout"] == "still\n"
    d.remove(sid)
    assert re.search(r"!!! the spawner died 5 times within 60 s", d.log()), d.log()


def test_warrend_exits_with_its_spawner_gone_and_leaves_nothing(start_daemon):
    d = start_daemon()
    spawner = spawner_of(d)
    sid = d.create()["id"]
    rc, _ = d.stop()
    assert rc == 0, d.log()
    assert not pid_alive(spawner), "the spawner outlived warrend"
    assert not os.path.exists(os.path.join(d.state_dir, "templates")), "the spawner's template directory stayed"
    del sid
