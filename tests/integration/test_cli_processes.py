"""`warren exec -i/-t/-d`, `warren ps`, `warren kill` and `warren attach`
against a real warrend (issue 13), as a person at a terminal uses them:
warren runs on a pseudo-terminal of the test's own (warrentest.Terminal),
so its raw mode, its restoring and SIGWINCH are the real thing; one test
drives a full-screen editor through tmux. Every wait has a ceiling."""

import json
import os
import re
import select
import shutil
import signal
import subprocess
import pytest

from daemon_fixture import daemon, wait_for, warrend  # noqa: F401 (fixtures)
from warrentest import EXIT_SETUP, Terminal, set_size, warren_path

CEILING = 30
TERMINALS = pytest.mark.backends("native", "oci", why="docker: no terminals, no signals but SIGKILL "
                                                       "(warrend.conf(5), BACKENDS)")


def cli_env(d):
    env = {k: v for k, v in os.environ.items() if k not in ("WARREN_URL", "WARREN_TOKEN")}
    env["WARREN_URL"] = f"unix:{d.sock}"
    return env


def cli(d, *args, input=None, check=None):
    """`warren ARGS` against daemon d (its unix socket)."""
    r = subprocess.run([warren_path(), *args], input=input, capture_output=True, text=True,
                       env=cli_env(d), timeout=CEILING * 2)
    if check is not None:
        assert r.returncode == check, (r.returncode, r.stdout, r.stderr)
    return r


@pytest.fixture
def sid(daemon, warren):
    r = cli(daemon, "create", check=0)
    s = r.stdout.strip()
    yield s
    cli(daemon, "rm", s)


@pytest.fixture
def terminal(daemon, warren):
    opened = []

    def start(*args, **kw):
        t = Terminal([warren, *args], env=cli_env(daemon), **kw)
        opened.append(t)
        return t

    yield start
    for t in opened:
        t.close()


def ps(d, sid):
    """{pid: row} of `warren ps`: its columns split on runs of spaces."""
    out = cli(d, "ps", sid, check=0).stdout.splitlines()
    assert re.match(r"PID +STATE +STARTED +TTY +TAG +COMMAND$", out[0]), out
    rows = {}
    for line in out[1:]:
        cols = re.split(r" {2,}", line)
        rows[int(cols[0])] = cols
    return rows


def state(d, sid, pid):
    return ps(d, sid)[pid][1]


# --- -d, ps, kill ------------------------------------------------------------------


def test_detached_process_listed_and_killed(daemon, sid):
    r = cli(daemon, "exec", "-d", "--tag", "web", sid, "--", "sh", "-c", "echo up; sleep 300", check=0)
    assert re.fullmatch(r"\d+\n", r.stdout), r.stdout
    pid = int(r.stdout)
    row = ps(daemon, sid)[pid]
    assert row[1] == "running" and row[3] == "no" and row[4] == "web" and row[5] == "sh -c echo up; sleep 300", row
    # once it has said "up" (its output has an event)
    info = lambda: json.loads(daemon.unix_request("GET", f"/v1/sessions/{sid}/processes/{pid}")[1])  # noqa: E731
    assert wait_for(lambda: info()["output"]["last_id"] >= 1, CEILING), info()
    cli(daemon, "kill", sid, str(pid), check=0)
    assert wait_for(lambda: state(daemon, sid, pid) == "signal 9", CEILING), ps(daemon, sid)
    r = cli(daemon, "kill", sid, str(pid), check=1)
    assert "has ended" in r.stderr
    r = cli(daemon, "kill", sid, "abc", check=1)
    assert "'abc' is not a process id" in r.stderr
    r = cli(daemon, "kill", "-s", "NOPE", sid, str(pid), check=1)
    assert "signal" in r.stderr
    # the output it kept is there for attach, then its status
    r = cli(daemon, "attach", sid, str(pid), check=128 + 9)
    assert r.stdout == "up\n"


@TERMINALS
def test_kill_with_a_signal_name(daemon, sid):
    pid = int(cli(daemon, "exec", "-d", sid, "--", "sleep", "300", check=0).stdout)
    cli(daemon, "kill", "-s", "INT", sid, str(pid), check=0)
    assert wait_for(lambda: state(daemon, sid, pid) == "signal 2", CEILING), ps(daemon, sid)


# --- -i: our stdin, as it comes ---------------------------------------------------------


def test_exec_i_sends_our_stdin_as_it_comes(daemon, sid):
    """The command answers the first line before the second is written:
    our stdin is not read to its end first."""
    p = subprocess.Popen([warren_path(), "exec", "-i", sid, "--", "sh", "-c",
                          'read a; echo "got $a"; read b; echo "then $b"; exit 3'],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=cli_env(daemon))
    try:
        p.stdin.write(b"first\n")
        p.stdin.flush()
        assert read_past_a_gate_line(p.stdout) == b"got first\n"
        p.stdin.write(b"second\n")
        p.stdin.close()  # our end of input is the command's
        assert p.stdout.read() == b"then second\n"
        assert p.wait(timeout=CEILING) == 3
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    r = cli(daemon, "exec", "-i", sid, "--", "sh", "-c", "cat; echo end", input="all of it\n", check=0)
    assert r.stdout == "all of it\nend\n"


def read_past_a_gate_line(pipe):
    """One line from pipe within the ceiling (a line that never comes fails)."""
    ready, _, _ = select.select([pipe], [], [], CEILING)
    assert ready, "no line within the ceiling: stdin was not sent as it came"
    return pipe.readline()


# --- -t: a terminal ------------------------------------------------------------------


@TERMINALS
def test_exec_t_is_now_a_terminal(daemon, sid):
    r = cli(daemon, "exec", "-t", sid, "--", "tty", check=0)
    assert re.fullmatch(r"/dev/pts/\d+\n", r.stdout), r.stdout  # (text mode reads CR LF as LF)


@TERMINALS
def test_exec_it_terminal_size_and_resize(daemon, sid, terminal):
    t = terminal("exec", "-it", sid, "--", "sh", "-c", 'tty; stty size; read x; stty size; exit 5',
                 rows=30, cols=100)
    t.read_until(rb"30 100")
    assert re.search(rb"/dev/pts/\d+", t.out)
    assert t.is_raw(), "our terminal is not raw while the command runs"
    set_size(t.master, 40, 120)  # the kernel sends warren SIGWINCH
    t.write(b"\r")
    t.read_until(rb"40 120")
    assert t.wait() == 5
    assert t.modes() == t.cooked, "our terminal was not put back"


@TERMINALS
def test_terminal_restored_when_exec_it_is_killed(daemon, sid, terminal):
    t = terminal("exec", "-it", "--tag", "victim", sid, "--", "sh", "-c", "echo ready; sleep 300")
    t.read_until(rb"ready")
    assert t.is_raw()
    pid = next(p for p, row in ps(daemon, sid).items() if row[4] == "victim")
    t.proc.send_signal(signal.SIGTERM)
    assert t.wait() == 128 + signal.SIGTERM
    assert t.modes() == t.cooked, "our terminal was left raw"
    assert re.search(rb"interrupted by signal 15: process \d+ killed", t.out), t.out
    assert wait_for(lambda: state(daemon, sid, pid) == "signal 9", CEILING), ps(daemon, sid)


# --- attach, detach ------------------------------------------------------------------


@TERMINALS
def test_attach_detach_and_attach_again(daemon, sid, terminal):
    r = cli(daemon, "exec", "-d", "-i", "-t", sid, "--", "sh", "-c",
               'echo ready; read x; echo "got $x"; exit 4', check=0)
    pid = int(r.stdout)
    assert ps(daemon, sid)[pid][3] == "yes"
    t = terminal("attach", sid, str(pid))
    t.read_until(rb"ready")  # what it wrote before, kept
    assert t.is_raw()
    t.write(b"\x10\x11")  # Ctrl-P Ctrl-Q
    assert t.wait() == 0
    assert t.modes() == t.cooked
    assert b"detached from process" in t.out
    assert state(daemon, sid, pid) == "running"
    t = terminal("attach", sid, str(pid))
    t.read_until(rb"ready")
    t.write(b"hello\r")
    t.read_until(rb"got hello")
    assert t.wait() == 4
    assert state(daemon, sid, pid) == "exit 4"


@TERMINALS
def test_a_full_screen_editor_through_tmux(daemon, sid, warren, tmp_path):
    if not shutil.which("tmux"):
        pytest.skip("tmux is not installed")
    sock = str(tmp_path / "tmux.sock")
    env = cli_env(daemon)
    env["TERM"] = "xterm"

    def tmux(*args):
        return subprocess.run(["tmux", "-S", sock, *args], env=env, capture_output=True, text=True,
                              timeout=CEILING)

    cmd = f"{warren} exec -it {sid} -- vim -u NONE -N -n note.txt"
    assert tmux("new-session", "-d", "-x", "80", "-y", "24", cmd).returncode == 0
    try:
        screen = lambda: tmux("capture-pane", "-p").stdout  # noqa: E731
        assert wait_for(lambda: '"note.txt"' in screen(), CEILING), screen()
        tmux("send-keys", "i", "hello from tmux", "Escape")
        assert wait_for(lambda: "hello from tmux" in screen(), CEILING), screen()
        tmux("send-keys", ":wq", "Enter")
        assert wait_for(lambda: tmux("has-session").returncode != 0, CEILING), screen()
    finally:
        tmux("kill-server")
    assert cli(daemon, "exec", sid, "--", "cat", "note.txt", check=0).stdout == "hello from tmux\n"


# --- the options that changed meaning ---------------------------------------------------


def test_create_refuses_its_old_short_options(daemon, warren):
    for args, new in ((("-i", "python"), "--image"), (("-t", "5s"), "--timeout")):
        r = cli(daemon, "create", *args, check=EXIT_SETUP)
        assert new in r.stderr and "warren exec -it" in r.stderr, r.stderr
    assert cli(daemon, "exec", "--help", check=0).stdout.count("--timeout DURATION") == 1
