"""The command as a process: its exit code and signals reach the caller, stdin,
stdout and stderr are the caller's, exec failures have their own codes, and a
signal to `warren` ends the sandbox."""

import os
import select
import signal
import subprocess

import pytest

from warrentest import EXIT_CANNOT_EXEC, EXIT_NOT_FOUND, parse_verbose, assert_sandbox_gone, run


@pytest.mark.parametrize("code", [0, 1, 42, 255])
def test_exit_code_is_the_commands(warren, code):
    assert run(warren, "--", "sh", "-c", f"exit {code}").returncode == code


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGSEGV, signal.SIGABRT])
def test_death_by_signal_exits_128_plus_signal(warren, sig):
    r = run(warren, "--", "sh", "-c", f"kill -{int(sig)} $$")
    assert r.returncode == 128 + sig
    assert f"killed by signal {int(sig)}" in r.stderr


def test_stdin_reaches_the_command(warren):
    r = run(warren, "--", "sh", "-c", "read a; read b; echo \"$b $a\"", input="first\nsecond\n")
    assert (r.returncode, r.stdout) == (0, "second first\n")


def test_binary_data_passes_through_stdin_and_stdout_unchanged(warren):
    data = os.urandom(1 << 20) + bytes(range(256))
    r = run(warren, "--", "cat", input=data)
    assert r.returncode == 0, r.stderr
    assert r.stdout == data


def test_stdout_and_stderr_stay_separate(warren):
    r = run(warren, "--", "sh", "-c", "echo to-out; echo to-err >&2; echo more-out")
    assert r.returncode == 0
    assert r.stdout == "to-out\nmore-out\n"
    assert "to-err" in r.errors.splitlines()
    assert "to-err" not in r.stdout


def test_stdin_at_eof_when_caller_closes_it(warren):
    r = run(warren, "--", "sh", "-c", "cat; echo done", input="")
    assert (r.returncode, r.stdout) == (0, "done\n")


def test_command_not_found_exits_127(warren):
    r = run(warren, "--", "no-such-command-xyz")
    assert r.returncode == EXIT_NOT_FOUND
    assert "no-such-command-xyz" in r.errors, r.stderr


def test_command_that_cannot_run_exits_126(warren, workspace):
    script = workspace / "not-executable.sh"
    script.write_text("#!/bin/sh\necho ran\n")
    script.chmod(0o644)
    r = run(warren, "--workspace", str(workspace), "--", "./not-executable.sh")
    assert r.returncode == EXIT_CANNOT_EXEC
    assert "not-executable.sh" in r.errors and r.stdout == "", r.stderr
    r = run(warren, "--", "/usr")
    assert r.returncode == EXIT_CANNOT_EXEC


def test_command_found_on_the_policy_path(warren):
    r = run(warren, "--", "python3", "-c", "print('hi')")
    assert (r.returncode, r.stdout) == (0, "hi\n")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signal_to_warren_ends_the_sandbox(warren, sig):
    p = subprocess.Popen([warren, "run", "-v", "--", "sh", "-c", "echo ready; sleep 300"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([p.stdout], [], [], 10)
        assert ready and p.stdout.readline() == "ready\n"
        p.send_signal(sig)
        rc = p.wait(timeout=30)  # a hang ceiling: the command itself would sleep 300 s
        err = p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdout.close()
        p.stderr.close()
    assert rc == 128 + sig
    assert f"signal {int(sig)}" in err
    assert_sandbox_gone(parse_verbose(err))
