"""One-shot POST /v1/run, and the compatibility routes of the Flask/Docker
sandbox services (/create_session, /execute, /upload_file, /cleanup, /health)
with exactly the request and response shapes their clients use."""

import shutil

import pytest

from daemon_fixture import assert_error, daemon, start_daemon, wait_for, warrend  # noqa: F401 (fixtures)
from warrentest import backend_leftovers

EXEC_RESULT = {"exit_code", "signal", "stdout", "stderr", "duration_ms", "timed_out", "oom_killed", "truncated"}


def sandbox_count(daemon):
    """Sandboxes alive (sessions plus the warm pool): the daemon's cgroups, or
    on docker its containers (the engine keeps their cgroups)."""
    if daemon.backend == "docker":
        return len(backend_leftovers("docker", daemon.state_dir, daemon.proc.pid))
    return len({c.rsplit("/", 1)[1] for c in daemon.cgroups()})


def run(daemon, body):
    r = daemon.post("/v1/run", body)
    assert r.status_code == 200, (r.status_code, r.text)
    return r.json()


# --- /v1/run -------------------------------------------------------------------------------------


def test_run_cmd(daemon):
    r = run(daemon, {"cmd": ["sh", "-c", "echo out; echo err >&2; exit 7"]})
    assert set(r) >= EXEC_RESULT, r
    assert (r["exit_code"], r["stdout"], r["stderr"]) == (7, "out\n", "err\n")


def test_run_shell_with_stdin_env_and_files(daemon):
    r = run(daemon, {"shell": 'cat; echo "$X"; cat data.txt', "stdin": "in\n", "env": {"X": "ex"},
                     "files": {"data.txt": "from a file\n"}})
    assert (r["exit_code"], r["stdout"]) == (0, "in\nex\nfrom a file\n"), r


def test_run_language_python(daemon):
    r = run(daemon, {"language": "python", "code": "import sys\nprint(6 * 7)\nprint('e', file=sys.stderr)"})
    assert (r["exit_code"], r["stdout"], r["stderr"]) == (0, "42\n", "e\n"), r


def test_run_language_bash(daemon):
    r = run(daemon, {"language": "bash", "code": "a=(x y z); echo ${#a[@]}"})
    assert (r["exit_code"], r["stdout"]) == (0, "3\n"), r


@pytest.mark.backends("native", "oci", why="the docker tests' stand-in for the host image (python) has no node")
def test_run_language_node(daemon):
    if not shutil.which("node"):
        pytest.skip("node is not installed on the host (the host image has no node to run)")
    r = run(daemon, {"language": "node", "code": "console.log([1,2,3].map(x => x * 2).join(','))"})
    assert (r["exit_code"], r["stdout"]) == (0, "2,4,6\n"), r


def test_run_errors_are_400(daemon):
    assert_error(daemon.post("/v1/run", {"language": "cobol", "code": "x"}), 400, "bad_request", "cobol")
    assert_error(daemon.post("/v1/run", {"language": "python"}), 400, "bad_request", "code")
    assert_error(daemon.post("/v1/run", {}), 400, "bad_request")
    assert_error(daemon.post("/v1/run", {"cmd": ["true"], "shell": "true"}), 400, "bad_request")
    assert_error(daemon.post("/v1/run", {"cmd": ["true"], "nope": 1}), 400, "bad_request", '"nope"')
    assert_error(daemon.post("/v1/run", {"cmd": ["true"], "limits": {"memory": "64G"}}), 400, "bad_request",
                 "limits.memory")


def test_run_timeout(daemon):
    r = run(daemon, {"shell": "sleep 30", "timeout": "1s"})
    assert r["timed_out"] is True and r["exit_code"] is None, r


def pooled_count(daemon):
    """Sandboxes the pools hold (ready or starting) while no session lives."""
    return sum(p["ready"] + p["starting"] for p in daemon.get("/v1/health").json()["pools"])


def test_run_leaves_nothing_behind(daemon):
    assert daemon.wait_pool_ready()
    for i in range(5):
        assert run(daemon, {"shell": f"echo {i} > /workspace/f; sleep 100 & echo started"})["stdout"] == "started\n"
    # Every one-shot sandbox is destroyed: what remains is what the pools hold
    # (a runtime's removals take a while on the oci and docker backends).
    assert wait_for(lambda: daemon.wait_pool_ready() and sandbox_count(daemon) == pooled_count(daemon), 15), \
        f"{sandbox_count(daemon)} sandboxes after 5 runs, {pooled_count(daemon)} pooled"
    assert daemon.get("/v1/health").json()["sessions"] == 0
    assert daemon.state_files() == []


# --- compatibility routes -----------------------------------------------------------------------


def create_session(daemon):
    r = daemon.post("/create_session", {})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert set(doc) == {"session_id", "status", "user", "workspace"}, doc
    assert doc["status"] == "created" and doc["workspace"] == "/workspace" and doc["user"] == "sandbox", doc
    return doc["session_id"]


def cleanup(daemon, sid):
    r = daemon.post("/cleanup", {"session_id": sid})
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "cleaned up"}


def test_compat_create_execute_cleanup(daemon):
    sid = create_session(daemon)
    r = daemon.post("/execute", {"session_id": sid, "command": "echo out; echo err >&2; exit 2", "timeout": 30})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert set(doc) == {"exit_code", "output"}, doc
    assert doc["exit_code"] == 2
    # stdout and stderr together, as those services return them.
    assert sorted(doc["output"].splitlines()) == ["err", "out"], doc
    # The session keeps its state between commands.
    daemon.post("/execute", {"session_id": sid, "command": "cd /workspace && echo kept > k.txt"})
    assert daemon.post("/execute", {"session_id": sid, "command": "cat k.txt"}).json() == \
        {"exit_code": 0, "output": "kept\n"}
    cleanup(daemon, sid)
    assert daemon.post("/execute", {"session_id": sid, "command": "true"}).status_code == 404


def test_compat_session_is_a_v1_session(daemon):
    sid = create_session(daemon)
    assert daemon.get(f"/v1/sessions/{sid}").status_code == 200
    cleanup(daemon, sid)
    assert daemon.get(f"/v1/sessions/{sid}").status_code == 404


def test_compat_execute_code_one_shot(daemon):
    code = ("import os, sys\nprint(1)\nprint('warn', file=sys.stderr)\nopen('not-output.txt', 'w').write('x')\n"
            "os.makedirs('/tmp/output')\nopen('/tmp/output/made.txt', 'w').write('x')\n")
    r = daemon.post("/execute", {"code": code, "timeout": 10})
    assert r.status_code == 200, r.text
    doc = r.json()
    shape = {"success", "stdout", "stderr", "exit_code", "execution_time", "error", "files"}
    if daemon.backend == "docker":
        # no files are collected there (warrend.conf(5)): said, not hidden
        assert set(doc) == shape | {"files_not_collected"}, doc
        assert doc["files"] == [] and doc["files_not_collected"][0]["code"] == "error", doc
    else:
        assert set(doc) == shape, doc
        # what /tmp/output holds, as those services answered: a download URL each (test_artifacts.py)
        assert [(f["name"], f["size"]) for f in doc["files"]] == [("made.txt", 1)], doc
    assert (doc["success"], doc["stdout"], doc["stderr"], doc["exit_code"], doc["error"]) == \
        (True, "1\n", "warn\n", 0, None), doc
    # The run's own time, in seconds: within the request's round trip as the client saw it.
    assert isinstance(doc["execution_time"], float), doc
    assert 0 < doc["execution_time"] <= r.elapsed.total_seconds(), (doc, r.elapsed)


def test_compat_execute_code_that_fails(daemon):
    doc = daemon.post("/execute", {"code": "raise ValueError('boom')", "timeout": 10}).json()
    assert doc["success"] is False and doc["exit_code"] == 1, doc
    assert "ValueError: boom" in doc["stderr"] and "ValueError: boom" in (doc["error"] or ""), doc
    assert doc["files"] == []


def test_compat_upload_file_then_read_it(daemon):
    sid = create_session(daemon)
    content = b"line one\nline two \xe2\x9c\x93\n"
    r = daemon.post("/upload_file", data={"session_id": sid}, files={"file": ("notes.txt", content, "text/plain")})
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "uploaded", "filename": "notes.txt", "path": "/workspace/notes.txt"}
    doc = daemon.post("/execute", {"session_id": sid, "command": "cat /workspace/notes.txt", "timeout": 10}).json()
    assert doc == {"exit_code": 0, "output": content.decode()}, doc
    # The file belongs to the sandbox's user, who may change it.
    doc = daemon.post("/execute", {"session_id": sid, "command": "echo more >> notes.txt && wc -l < notes.txt"}).json()
    assert doc == {"exit_code": 0, "output": "3\n"}, doc
    cleanup(daemon, sid)


def test_compat_upload_file_errors(daemon):
    sid = create_session(daemon)
    r = daemon.post("/upload_file", data={"session_id": sid})  # no file field
    assert r.status_code == 400, r.text
    r = daemon.post("/upload_file", data={"session_id": "0" * 32}, files={"file": ("a.txt", b"x")})
    assert r.status_code == 404, r.text
    # warrend(8): only the base name of the file's name is kept.
    r = daemon.post("/upload_file", data={"session_id": sid}, files={"file": ("../../etc/evil", b"x")})
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "uploaded", "filename": "evil", "path": "/workspace/evil"}, r.json()
    doc = daemon.post("/execute", {"session_id": sid, "command": "cat /workspace/evil; ls /etc/evil"}).json()
    assert doc["output"].startswith("x") and "No such file" in doc["output"], doc
    r = daemon.post("/upload_file", data={"session_id": sid}, files={"file": ("dir/..", b"x")})
    assert r.status_code == 400, r.text
    cleanup(daemon, sid)


def test_compat_health(daemon):
    r = daemon.get("/health")
    assert r.status_code == 200
    doc = r.json()
    assert {"status", "pool_size", "active_sessions"} <= set(doc), doc
    assert doc["status"] == "healthy" and isinstance(doc["active_sessions"], int), doc
    assert isinstance(doc["pool_size"], int) and 0 <= doc["pool_size"] <= 2, doc  # --pool-size 2
    sid = create_session(daemon)
    assert daemon.get("/health").json()["active_sessions"] == doc["active_sessions"] + 1
    cleanup(daemon, sid)
