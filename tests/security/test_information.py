"""Information: host processes, the host's name, kernel memory and symbols,
firmware tables and kernel logs stay out of a sandbox's view."""

import os
import socket
import subprocess

import pytest

from battery import host_check


def backwards(s):
    """attack host_procs takes its strings reversed (see attack.c)."""
    return s[::-1]


@pytest.fixture
def host_process():
    """A host process with a marker in its command line."""
    marker = str(1000 + int.from_bytes(os.urandom(2), "big")) + ".25"
    p = subprocess.Popen(["sleep", marker])
    yield marker
    p.kill()
    p.wait()


def test_host_processes_invisible(sandbox, host_process):
    sandbox.attack("host_procs", backwards(f"sleep {host_process}")).assert_blocked()


def test_init_does_not_show_the_host_command_line(sandbox, daemon, attack_dir):
    """pid 1 of a sandbox is a fork of warren/warrend: its command line must
    not tell the sandbox the host's paths, listen addresses or options."""
    secrets_of_host = [daemon.state_dir, daemon.tokens_file, str(daemon.port), attack_dir, "--listen", "--workspace"]
    sandbox.attack("host_procs", *map(backwards, secrets_of_host)).assert_blocked()


def test_host_hostname_invisible(sandbox):
    sandbox.attack("hostname", socket.gethostname()).assert_blocked()


def test_kernel_memory_symbols_firmware_masked(sandbox):
    sandbox.attack("kernel_info").assert_blocked()
