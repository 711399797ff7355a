"""`warren run -t` and `-it`: the command gets a terminal of the sandbox's
own (its devpts, never the caller's), warren relays it both ways, passes the
window size at start and on SIGWINCH, exits with the command's status, and
puts the caller's terminal back as it was on every way out that can be
caught (SIGKILL cannot: `stty sane` is the remedy, warren(1)).

Most tests drive warren from a pseudo-terminal of their own (the Terminal
class: warren's controlling terminal, so resizing it sends warren SIGWINCH);
one goes through script(1) as the issue states it, one through tmux with a
full-screen editor. Every wait has a ceiling; none is a timing."""

import os
import re
import shlex
import shutil
import signal
import subprocess
import time

import pytest

from warrentest import EXIT_NOT_FOUND, EXIT_TIMEOUT, Terminal, run, set_size

CEILING = 30  # seconds any awaited output may take on a loaded host


@pytest.fixture
def terminal(warren):
    opened = []

    def start(*args, **kw):
        t = Terminal([warren, "run", *args], **kw)
        opened.append(t)
        return t

    yield start
    for t in opened:
        t.close()


# --- a terminal of the sandbox's own ------------------------------------------------


def test_tty_under_script_prints_a_pts_path(warren):
    """The issue's own check, through script(1); without -t the command has no terminal."""
    if not shutil.which("script"):
        pytest.skip("script(1) is not installed (util-linux)")
    cmd = f"{shlex.quote(warren)} run -t -- tty"
    p = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stdout
    assert re.fullmatch(r"/dev/pts/\d+", p.stdout.strip()), p.stdout
    p = subprocess.run(["script", "-qec", f"{shlex.quote(warren)} run -- tty", "/dev/null"], capture_output=True,
                       text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert "not a tty" in p.stdout


def test_terminal_is_the_sandboxs_controlling_one(warren):
    """The command's 0, 1, 2 are one pty of the sandbox's devpts, its
    controlling terminal (/dev/tty opens), in a session of its own."""
    r = run(warren, "-t", "--", "sh", "-c",
            'for fd in 0 1 2; do readlink /proc/self/fd/$fd; done; (exec 3</dev/tty) && echo ctty;'
            ' stat -L -c %d /dev/pts/ptmx /proc/self/fd/0')
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:4] == ["/dev/pts/0"] * 3 + ["ctty"], r.stdout
    assert lines[4] == lines[5], "fd 0 is not a terminal of the sandbox's devpts"


def test_exit_status_of_the_command(warren):
    assert run(warren, "-t", "--", "sh", "-c", "exit 3").returncode == 3
    assert run(warren, "-t", "--", "sh", "-c", "kill -TERM $$").returncode == 128 + signal.SIGTERM


def test_exit_in_an_interactive_shell_ends_warren_with_its_status(terminal):
    """`-it -- bash -i`: job control works (no "no job control"), typed
    lines run, `exit 3` ends the shell and warren exits 3."""
    t = terminal("-it", "--", "bash", "--norc", "--noprofile", "-i")
    t.read_until(rb"\$ $")
    t.write(b"sleep 300 & jobs; echo sum=$((6*7))\r")
    t.read_until(rb"sum=42")
    t.write(b"kill %1; exit 3\r")
    assert t.wait() == 3
    assert b"no job control" not in t.out, t.out
    assert re.search(rb"\[1\]\+ +Running +sleep 300", t.out), t.out


def test_command_not_found_with_a_terminal(warren):
    r = run(warren, "-t", "--", "no-such-command-xyz")
    assert r.returncode == EXIT_NOT_FOUND
    assert "no-such-command-xyz" in r.errors


def test_output_written_before_exit_all_arrives(warren):
    r = run(warren, "-t", "--", "seq", "1", "100000")
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert lines[-1] == "100000" and len(lines) == 100000, lines[-3:]


# --- window size ---------------------------------------------------------------------


def test_window_size_at_start_and_after_a_resize(terminal):
    """The caller's size at start; a resize of the caller's terminal
    reaches warren as SIGWINCH and the sandbox's terminal as the new size
    (and its own SIGWINCH). Ctrl-C is a byte for the sandbox's terminal,
    whose foreground job it interrupts: 130."""
    t = terminal("-it", "--", "sh", "-c",
                 'stty size; trap "stty size" WINCH; echo ready; while :; do sleep 0.05; done', rows=33, cols=101)
    t.read_until(rb"33 101\r\nready")
    set_size(t.master, 40, 120)
    t.read_until(rb"40 120")
    t.write(b"\x03")
    assert t.wait() == 130


def test_without_a_caller_terminal_the_size_is_80x24(warren):
    r = run(warren, "-t", "--", "stty", "size")
    assert r.stdout.strip() == "24 80"


# --- stdin -----------------------------------------------------------------------------


def test_read_from_an_interactive_terminal(terminal):
    t = terminal("-it", "--", "sh", "-c", 'echo ready; read -r line; echo "got:$line"')
    t.read_until(b"ready")
    t.write(b"hello there\r")
    t.read_until(b"got:hello there")
    assert t.wait() == 0


def test_interactive_without_a_terminal_is_a_pipe(warren):
    r = run(warren, "-i", "--", "sh", "-c", 'read -r a; [ -t 0 ] || echo "pipe:$a"', input="x\n")
    assert (r.returncode, r.stdout) == (0, "pipe:x\n"), r.stderr


def test_piped_stdin_ends_with_end_of_file(warren):
    """-it with stdin a pipe: its end is the terminal's EOF character, so
    `cat` ends instead of waiting forever (also after a last line without
    a newline)."""
    p = subprocess.run([warren, "run", "-it", "--", "sh", "-c", "cat >/tmp/in; echo; od -c /tmp/in"],
                       input=b"one\ntwo", capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert b"o   n   e  \\n   t   w   o" in p.stdout, p.stdout


def test_without_interactive_stdin_is_not_relayed(terminal):
    """-t alone (as docker's): typed keys do not reach the command, and
    warren leaves the caller's terminal as it is."""
    t = terminal("-t", "--", "sh", "-c", 'echo ready; read -r line; echo "got:$line"')
    t.read_until(b"ready")
    assert not t.is_raw()
    t.write(b"typed\r")
    t.read_until(b"typed")  # the caller's own terminal echoes it
    os.kill(t.proc.pid, signal.SIGTERM)
    assert t.wait() == 128 + signal.SIGTERM
    assert b"got:" not in t.out


# --- the caller's terminal is put back ------------------------------------------------


ENDINGS = {
    "exit": ([], "exit 4", None, 4),
    "command killed": ([], "kill -KILL $$", None, 128 + signal.SIGKILL),
    "timeout": (["--timeout", "2s"], "sleep 300", None, EXIT_TIMEOUT),
    "SIGTERM to warren": ([], "sleep 300", signal.SIGTERM, 128 + signal.SIGTERM),
    "SIGHUP to warren": ([], "sleep 300", signal.SIGHUP, 128 + signal.SIGHUP),
    "SIGINT to warren": ([], "sleep 300", signal.SIGINT, 128 + signal.SIGINT),
    "SIGQUIT to warren": ([], "sleep 300", signal.SIGQUIT, 128 + signal.SIGQUIT),
}


@pytest.mark.parametrize("ending", ENDINGS)
def test_terminal_restored(terminal, ending):
    """Raw while the command runs (the premise), as before once warren
    has exited, however that came about."""
    flags, then, sig, status = ENDINGS[ending]
    t = terminal("-it", *flags, "--", "sh", "-c", f"echo ready; read -r go; {then}")
    t.read_until(b"ready")
    assert t.is_raw(), "the caller's terminal is not raw while the command runs"
    if sig:
        os.kill(t.proc.pid, sig)
    else:
        t.write(b"go\r")
    assert t.wait() == status, t.out
    assert t.modes() == t.cooked


def test_terminal_restored_after_a_failed_start(terminal):
    t = terminal("-it", "--", "no-such-command-xyz")
    assert t.wait() == EXIT_NOT_FOUND
    assert t.modes() == t.cooked


# --- a full-screen program --------------------------------------------------------------


def test_full_screen_editor_through_tmux(warren, tmp_path):
    """vim in a tmux window: it draws its screen in the sandbox's terminal
    (sized as tmux's window), takes keys, saves, and warren exits 0."""
    vim = "vim" if shutil.which("vim") else "vi"
    if not shutil.which("tmux") or not shutil.which(vim):
        pytest.skip("needs tmux and vi (scripts/install-deps installs tmux and vim-tiny)")
    sock = tmp_path / "tmux.sock"  # not in /tmp/tmux-UID, which would outlive the test
    conf = tmp_path / "tmux.conf"
    conf.write_text("set -g status off\n")  # the whole window is the pane: 100x30
    tmux = ["tmux", "-S", str(sock), "-f", str(conf)]
    script = f"stty size; {vim} -u NONE -i NONE -N /tmp/f && echo saved: $(cat /tmp/f)"
    cmd = f"{shlex.quote(warren)} run -it -- sh -c {shlex.quote(script)}; echo status=$?; sleep 600"

    def screen():
        return subprocess.run([*tmux, "capture-pane", "-p", "-t", "t"], capture_output=True, text=True).stdout

    def wait_for(pattern):
        deadline = time.monotonic() + CEILING
        while not re.search(pattern, screen()):
            assert time.monotonic() < deadline, f"never saw {pattern!r} on the screen:\n{screen()}"
            time.sleep(0.1)

    subprocess.run([*tmux, "new-session", "-d", "-s", "t", "-x", "100", "-y", "30", cmd], check=True,
                   env=dict(os.environ, TERM="xterm"))
    try:
        wait_for(r'"/tmp/f" \[New\]')
        lines = screen().splitlines()
        assert sum(1 for l in lines if l == "~") >= 20, "vim did not draw a full screen:\n" + screen()
        subprocess.run([*tmux, "send-keys", "-t", "t", "ihello from vim", "Escape", ":wq", "Enter"], check=True)
        wait_for(r"status=\d+")
        assert "saved: hello from vim" in screen() and "status=0" in screen(), screen()
        assert "30 100" in screen().splitlines()[0], screen()
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
        sock.unlink(missing_ok=True)
