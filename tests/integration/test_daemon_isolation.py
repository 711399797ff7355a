"""Sessions of one daemon are isolated from each other (host uids, files,
processes), many sessions can be created and used at once, and daemons on
one host leave each other's sandboxes alone."""

import concurrent.futures

import pytest

from daemon_fixture import daemon, start_daemon, warrend  # noqa: F401 (fixtures)
from warrentest import BACKENDS, PS_ARGS, in_sandbox_range, read_proc, uid_range_of


def host_uid_of_init(daemon, sid):
    p = read_proc(daemon.init_pid(sid))
    assert p is not None, f"the init of session {sid} is not running"
    return p.uid


@pytest.mark.backends("native", "oci", why="an engine without user namespace remapping runs every container's "
                     "uid 1000 as the host's uid 1000 (warrend.conf(5))")
def test_sessions_run_as_different_host_uids(daemon):
    a, b = daemon.create()["id"], daemon.create()["id"]
    ua, ub = host_uid_of_init(daemon, a), host_uid_of_init(daemon, b)
    assert in_sandbox_range(ua) and in_sandbox_range(ub), (ua, ub)
    assert ua != ub and uid_range_of(ua) != uid_range_of(ub), f"two sessions share a host uid range: {ua} {ub}"
    # Inside, both are the same unprivileged sandbox user.
    assert daemon.exec(a, cmd=["id", "-u"])["stdout"] == daemon.exec(b, cmd=["id", "-u"])["stdout"] != "0\n"
    daemon.remove(a)
    daemon.remove(b)


def test_a_file_written_in_one_session_is_invisible_in_another(daemon):
    a, b = daemon.create()["id"], daemon.create()["id"]
    assert daemon.exec(a, shell="echo secret > /workspace/mine.txt; echo secret > /tmp/mine.txt")["exit_code"] == 0
    assert daemon.exec(a, cmd=["cat", "/workspace/mine.txt", "/tmp/mine.txt"])["stdout"] == "secret\nsecret\n"
    r = daemon.exec(b, shell="ls -A /workspace; cat /workspace/mine.txt /tmp/mine.txt")
    assert r["exit_code"] != 0 and "secret" not in r["stdout"], r
    assert "mine.txt" not in r["stdout"], r
    # Nor through the host path of the other's workspace or its /proc.
    pid_a = daemon.init_pid(a)
    r = daemon.exec(b, shell=f"cat /proc/{pid_a}/root/workspace/mine.txt; ls /proc/{pid_a}/root/workspace")
    assert "secret" not in r["stdout"] and "mine.txt" not in r["stdout"], r
    daemon.remove(a)
    daemon.remove(b)


def test_one_session_cannot_see_the_others_processes(daemon):
    a, b = daemon.create()["id"], daemon.create()["id"]
    assert daemon.exec(a, shell="sleep 305 >/dev/null 2>&1 &")["exit_code"] == 0
    ps_a = daemon.exec(a, cmd=PS_ARGS)["stdout"]
    ps_b = daemon.exec(b, cmd=PS_ARGS)["stdout"]
    assert "sleep 305" in ps_a, ps_a
    assert "sleep 305" not in ps_b, ps_b
    # b cannot signal a's processes either: they are not in its pid namespace.
    r = daemon.exec(b, shell="pkill -f 'sleep 305'; kill -9 -1; true")
    assert "sleep 305" in daemon.exec(a, cmd=PS_ARGS)["stdout"], "session b killed a's process"
    daemon.remove(a)
    daemon.remove(b)


def test_forty_sessions_at_once(daemon):
    def life(i):
        sid = daemon.create()["id"]
        r = daemon.exec(sid, shell=f"echo {i} > /workspace/n; cat /workspace/n; ls /workspace | wc -l")
        assert (r["exit_code"], r["stdout"]) == (0, f"{i}\n1\n"), (r, r["stderr"])
        return sid

    # (how fast is bench/sessions' concern: create+exec+delete cycles per second)
    with concurrent.futures.ThreadPoolExecutor(40) as pool:
        sids = list(pool.map(life, range(40)))
    assert len(set(sids)) == 40
    listed = {s["id"] for s in daemon.get("/v1/sessions").json()["sessions"]}
    assert set(sids) <= listed
    assert daemon.get("/v1/health").json()["sessions"] >= 40
    with concurrent.futures.ThreadPoolExecutor(40) as pool:
        deleted = list(pool.map(daemon.remove, sids))
    assert all(d["deleted"] for d in deleted)
    h = daemon.get("/v1/health").json()
    assert (h["status"], h["sessions"]) == ("ok", 0), h
    # And it still serves a new session normally.
    s = daemon.create()["id"]
    assert daemon.exec(s, cmd=["echo", "fine"])["stdout"] == "fine\n"
    daemon.remove(s)


@pytest.mark.parametrize("backend", BACKENDS)
def test_starting_a_second_daemon_leaves_the_first_ones_sandboxes_alone(start_daemon, backend):
    # (docker: both daemons share the engine, and a starting daemon removes
    # what a crashed one left there, but only that)
    first = start_daemon(backend=backend)
    sid = first.create()["id"]
    assert first.exec(sid, cmd=["true"])["exit_code"] == 0
    # Another warrend on the same host (its own state dir and socket) starts.
    second = start_daemon(backend=backend)
    r = first.post(f"/v1/sessions/{sid}/exec", {"cmd": ["echo", "still here"]})
    assert r.status_code == 200 and r.json()["stdout"] == "still here\n", \
        f"starting a second warrend killed the first one's session: {r.status_code} {r.text}; " \
        f"second daemon said: {second.log().strip()}"
    first.remove(sid)
