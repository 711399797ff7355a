"""What full CI runs met on the docker backend, made deterministic (its
writes into a read-only directory: test_python_client.py):

- a daemon stopped (SIGTERM) or killed (SIGKILL) while the engine was
  creating containers left them behind, or, when its removal by name met
  the create, a container podman recorded without its storage: from then on
  the engine failed every listing, so no daemon could find what dead ones
  left;
- such a broken engine must not blind the daemon: it removes the broken
  container, says so (log, /v1/health) and removes what dead daemons left,
  also while it runs.
"""

import signal
import threading
import time

import pytest

from daemon_fixture import start_daemon, wait_for, warrend  # noqa: F401 (fixtures)
from test_daemon_lifecycle import live_and_killed
from warrentest import BACKENDS, DOCKER_HOST_IMAGE, backend_leftovers, docker_api

DOCKER = [b for b in BACKENDS if b == "docker"]
# A daemon pid no process can have (above pid_max): its containers are a dead daemon's.
DEAD_PID = 4999999


def creating(d):
    return sum(p["starting"] for p in d.get("/v1/health").json()["pools"])


def engine_lists():
    status, body = docker_api("GET", "/containers/json?all=1")
    return status == 200, body


# --- daemons stopped or killed while containers are created --------------------------------------


def creating_daemon(start_daemon, backend):
    """A daemon filling its pool: containers are being created. Returns it and its pid."""
    d = start_daemon("--pool-size", "6", backend=backend, pool_ready=False)
    assert wait_for(lambda: creating(d), 10), d.get("/v1/health").json()
    return d, d.proc.pid


def assert_nothing_left(backend, d, pid, ceiling=0, spare=()):
    """Within `ceiling` seconds nothing of daemon `pid` remains in the engine
    (which lists cleanly) but the containers named in `spare`, and nothing
    appears in the 3 seconds after: a create whose client went away goes on
    in the engine, and what it made would show up a moment later."""
    def left():
        return [n for n in backend_leftovers(backend, d.state_dir, pid) if n.split()[-1].lstrip("/") not in spare]

    assert wait_for(lambda: not left(), ceiling), f"left by daemon {pid}: {left()}\n{d.log()}"
    appeared = wait_for(left, 3)
    assert not appeared, f"appeared after daemon {pid} ended: {appeared}\n{d.log()}"


@pytest.mark.parametrize("backend", DOCKER)
def test_sigterm_while_sandboxes_are_created_leaves_nothing(start_daemon, backend):
    for _ in range(4):
        d, pid = creating_daemon(start_daemon, backend)
        rc, _ = d.stop(signal.SIGTERM, timeout=60)
        assert rc == 0, d.log()
        assert_nothing_left(backend, d, pid)


@pytest.mark.parametrize("backend", DOCKER)
def test_sigkill_while_sandboxes_are_created_then_restart_leaves_nothing(start_daemon, backend):
    for _ in range(3):
        old, pid = creating_daemon(start_daemon, backend)
        old.kill()
        new = start_daemon(workdir=old.workdir, backend=backend)
        assert_nothing_left(backend, old, pid, ceiling=30)
        rc, _ = new.stop()
        assert rc == 0, new.log()


# --- an engine that recorded a container without its storage -------------------------------------


def break_the_engine():
    """Makes podman record a container without its storage, as it does when
    a DELETE by name meets the container's create: races the two, moving
    the delay until it happens (a delete too early finds nothing, too late
    removes the whole container). The container carries the daemons' label
    and a dead daemon's name. Returns its id."""
    body = {"Image": DOCKER_HOST_IMAGE, "Cmd": ["sleep", "infinity"], "Labels": {"io.warren.daemon": "1"},
            "HostConfig": {"NetworkMode": "none"}}
    delay = 0.0
    outcomes = []
    for attempt in range(100):
        name = f"wd-{DEAD_PID}-{attempt}"
        created = {}
        t = threading.Thread(target=lambda: created.update(r=docker_api("POST", f"/containers/create?name={name}", body)))
        t.start()
        time.sleep(delay)
        deleted, _ = docker_api("DELETE", f"/containers/{name}?force=1")
        t.join()
        status, answer = created["r"]
        if status == 201 and not engine_lists()[0]:
            return answer["Id"]
        if status == 201:
            docker_api("DELETE", f"/containers/{answer['Id']}?force=1")
        # 404: the delete came before the create began; 500 for the create:
        # during its storage's set-up
        outcomes.append((deleted, status))
        delay = max(0.0, delay + (0.002 if deleted == 404 or status != 201 else -0.002))
    pytest.fail(f"podman did not record a container without its storage in 100 races (delete, create: {outcomes});"
                " the tests of a broken engine need it")


@pytest.fixture
def broken_engine():
    """An engine whose listing fails on a broken container, repaired after the test whatever happens."""
    ids = []
    yield lambda: ids.append(break_the_engine()) or ids[-1]
    for i in ids:
        docker_api("DELETE", f"/containers/{i}?force=1")


@pytest.mark.parametrize("backend", DOCKER)
def test_a_broken_engine_is_repaired_at_start(start_daemon, broken_engine, backend):
    broken = broken_engine()
    ok, why = engine_lists()
    assert not ok and "container not known" in str(why), why
    d = start_daemon(backend=backend)
    assert f"removed container {broken[:12]}, which the engine had recorded without its storage" in d.log(), d.log()
    ok, why = engine_lists()
    assert ok, why
    sid = d.create()["id"]
    assert d.exec(sid, cmd=["echo", "ok"])["stdout"] == "ok\n"
    d.remove(sid)


@pytest.mark.parametrize("backend", DOCKER)
def test_a_broken_engine_is_repaired_and_reported_while_the_daemon_runs(start_daemon, broken_engine, backend):
    d = start_daemon(backend=backend)
    sid = d.create()["id"]
    broken = broken_engine()
    # The next health check (every 10 s) repairs it and says so until the
    # one after (a check may also have repaired one of the races' others).
    def warning():
        w = d.get("/v1/health").json()["backends"]["docker"].get("warning", "")
        return w if broken[:12] in w else None

    said = wait_for(warning, 40, interval=0.2)
    assert said and "recorded without its storage" in said, d.get("/v1/health").json()
    assert d.get("/v1/health").json()["backends"]["docker"]["healthy"] is True
    assert f"backend docker: {said}" in d.log(), d.log()
    ok, why = engine_lists()
    assert ok, why
    assert d.exec(sid, cmd=["echo", "ok"])["stdout"] == "ok\n"
    d.remove(sid)


@pytest.mark.parametrize("backend", DOCKER)
def test_a_live_daemon_removes_the_containers_of_one_that_died(start_daemon, backend):
    """Not only at start: a daemon that dies while others run has its
    containers removed by them within a health check or two, but for its
    sessions' (kept: warrend(8) RESTARTS), which wait for the next daemon
    on its state directory."""
    live, kept, dead, pid, sid = live_and_killed(start_daemon, backend)
    session_container = dead.state_files()[0]["backend_state"]["container"]
    assert_nothing_left(backend, dead, pid, ceiling=40, spare={session_container})
    assert live.exec(kept, cmd=["echo", "alive"])["stdout"] == "alive\n", "a live daemon lost its session"
    live.remove(kept)
    # its socket and state files: what the next daemon on its directory
    # removes; its session it takes back
    new = start_daemon(workdir=dead.workdir, backend=backend)
    assert "took back 1 session(s)" in new.log(), new.log()
    assert new.exec(sid, cmd=["echo", "back"])["stdout"] == "back\n"
