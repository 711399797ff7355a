"""Memory spent for a sandbox is the sandbox's (audit items 5 and 11).

Files written through the API (PUT .../files, /upload_file, /v1/run's
"files") are charged to the sandbox's memory cgroup, not the daemon's: a
write past the sandbox's memory fails with 507 insufficient_storage, leaves
no partial file and harms nothing else in the session. Filling the
workspace from inside ends in ENOSPC or an OOM kill of the writer, never in
the loss of the session: init survives its own cgroup's OOM. The daemon's
tests run on each backend (docker's file writes are execs in the container,
charged there)."""

import json
import os
import re
import subprocess
import uuid

import pytest

from battery import STATS, host_check

MiB = 1 << 20


@pytest.fixture(scope="module")
def daemon(backend_daemon):
    return backend_daemon


def attempt(ok, message):
    STATS["attempts"] += 1
    assert ok, message
    STATS["blocked"] += 1


@pytest.fixture
def small(daemon):
    """The audit's 16M session, with a background process that everything
    below must leave alive."""
    sid = daemon.create(limits={"memory": "16M"})
    r = daemon.exec(sid, {"shell": "sleep 1000 >/dev/null 2>&1 & echo $! > /tmp/bg"})
    assert r["exit_code"] == 0, r
    yield sid
    daemon.delete(sid)


def session_goes_on(daemon, sid):
    """The background process lives and a next command runs."""
    r = daemon.exec(sid, {"shell": "kill -0 $(cat /tmp/bg) && echo alive; echo next"})
    host_check(r.get("exit_code") == 0 and r.get("stdout") == "alive\nnext\n",
               f"the session did not go on: {r}")


def memory_usage(daemon, sid):
    """Bytes charged to the sandbox's memory cgroup, read on the host."""
    with open(os.path.join(daemon.state_dir, "sessions", f"{sid}.json")) as f:
        where = json.load(f)["cgroup"]
    version, path = re.search(r"cgroup (v1|v2) (\S+)$", where).groups()
    if version == "v1":
        path = re.sub(r"\{[a-z,]+\}", "memory", path) + "/memory.usage_in_bytes"
    else:
        path += "/memory.current"
    with open(path) as f:
        return int(f.read())


def error_code(reply):
    try:
        return reply.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def test_puts_past_the_memory_limit_fail_with_507(daemon, small):
    """The audit's reproduction: six 60 MiB PUTs into a 16M session were all
    accepted, the pages charged to the daemon."""
    for i in range(6):
        r = daemon.put(small, f"f{i}", b"x" * (60 * MiB))
        attempt(r.status == 507 and error_code(r) == "insufficient_storage",
                f"PUT {i} of 60 MiB into a 16M session: {r.status} {r.body[:300]!r}")
        g = daemon.get(small, f"f{i}")
        host_check(g.status == 404, f"a partial f{i} was left: {g.status} {g.body[:100]!r}")
    session_goes_on(daemon, small)
    host_check(daemon.alive(), "warrend stopped answering")


def test_written_files_count_against_the_sandbox(daemon, small):
    before = memory_usage(daemon, small)
    r = daemon.put(small, "eight", b"y" * (8 * MiB))
    assert r.status == 201, (r.status, r.body)
    grown = memory_usage(daemon, small) - before
    attempt(grown >= 7 * MiB, f"an 8 MiB PUT grew the sandbox's memory by {grown} bytes")
    # the compat route writes the same way
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"session_id\"\r\n\r\n{small}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"up\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + b"z" * (2 * MiB) + \
        f"\r\n--{boundary}--\r\n".encode()
    before = memory_usage(daemon, small)
    r = daemon.request("POST", "/upload_file", body,
                       headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status == 200, (r.status, r.body)
    grown = memory_usage(daemon, small) - before
    attempt(grown >= 3 * MiB // 2, f"a 2 MiB /upload_file grew the sandbox's memory by {grown} bytes")
    session_goes_on(daemon, small)


@pytest.mark.backends("native", "oci", why="docker: the engine's processes have the same OOM score as the writer")
def test_a_put_that_does_not_fit_kills_only_the_writer(daemon, small):
    """The workspace has room but the sandbox's memory has not (8M held in
    /dev/shm): the writer, the OOM killer's first choice, dies alone."""
    r = daemon.exec(small, {"shell": "head -c 8M /dev/zero > /dev/shm/hold && echo held"})
    assert r["stdout"] == "held\n", r
    r = daemon.put(small, "ten", b"t" * (10 * MiB))
    attempt(r.status == 507 and error_code(r) == "insufficient_storage",
            f"a 10 MiB PUT with 8M of 16M held: {r.status} {r.body[:300]!r}")
    g = daemon.get(small, "ten")
    host_check(g.status == 404, f"a partial file was left: {g.status}")
    host_check(memory_usage(daemon, small) < 12 * MiB, "the killed writer's pages stayed charged")
    session_goes_on(daemon, small)


def test_filling_the_workspace_keeps_the_session(daemon, small):
    """`head -c 100M > /workspace/x` in a 16M session ended it ("the
    sandbox's init exited")."""
    r = daemon.exec(small, {"shell": "head -c 100M /dev/zero > /workspace/x"})
    attempt("error" not in r and ((r["exit_code"] not in (0, None) and "No space left" in r["stderr"])
                                  or r["oom_killed"] is True),
            f"filling the workspace: {r}")
    session_goes_on(daemon, small)
    r = daemon.exec(small, {"shell": "rm /workspace/x && head -c 4M /dev/zero > /workspace/y && echo again"})
    host_check(r["stdout"] == "again\n", f"the workspace is not usable again: {r}")


@pytest.mark.backends("native", "oci", why="docker: the engine sets the OOM scores")
def test_commands_are_the_oom_killers_first_choice(daemon, small):
    """Each command (and what it forks at once) has the highest OOM score
    before it runs; init the lowest the host allows."""
    r = daemon.exec(small, {"shell": "cat /proc/self/oom_score_adj /proc/1/oom_score_adj"})
    cmd, init = (int(v) for v in r["stdout"].split())
    attempt(cmd == 1000 and init <= 0, f"oom_score_adj: the command's {cmd}, init's {init}")


def test_warren_run_fill_and_scores(warren):
    """warren run: the same init, the same commands."""
    p = subprocess.run([warren, "run", "-m", "16M", "--", "sh", "-c",
                        "cat /proc/self/oom_score_adj /proc/1/oom_score_adj; "
                        "head -c 100M /dev/zero > /workspace/x; echo head=$?; df -k /workspace | tail -1"],
                       capture_output=True, text=True, timeout=60)
    lines = p.stdout.split("\n")
    attempt(p.returncode == 0 and lines[0] == "1000" and int(lines[1]) <= 0 and lines[2] == "head=1"
            and "No space left" in p.stderr,
            f"exit {p.returncode}, stdout {p.stdout!r}, stderr {p.stderr[-500:]!r}")
    size_k = int(lines[3].split()[1])
    host_check(size_k <= 12 * 1024, f"a {size_k}K workspace in a 16M sandbox: it would take all the memory")
