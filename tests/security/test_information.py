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


def test_proc_interrupts_locks_and_dockers_masked_paths(sandbox):
    """/proc/interrupts and /proc/locks were readable (the audit); Docker's
    whole masked list reads empty or not at all."""
    sandbox.attack("proc_leaks").assert_blocked()


def test_masked_paths_on_every_backend(backend_daemon, attack_path):
    """The same list through the oci runtime's maskedPaths and the engine's
    MaskedPaths."""
    from battery import DaemonBackend
    DaemonBackend(backend_daemon, attack_path).attack("proc_leaks").assert_blocked()


@pytest.fixture
def usr_local_etc_canary():
    """A file in the host's /usr/local/etc (npm and other tools keep
    credentials there), removed afterwards with the directory if we made it."""
    made = not os.path.isdir("/usr/local/etc")
    os.makedirs("/usr/local/etc", exist_ok=True)
    path = f"/usr/local/etc/warren-canary-{os.urandom(6).hex()}"
    with open(path, "w") as f:
        f.write("token=warren-canary\n")
    os.chmod(path, 0o644)
    yield path
    os.unlink(path)
    if made:
        os.rmdir("/usr/local/etc")


def test_host_usr_local_etc_hidden(sandbox, usr_local_etc_canary):
    sandbox.attack("hidden", "/usr/local/etc", usr_local_etc_canary).assert_blocked()


@pytest.fixture
def hide_policy(policy_dir):
    """A policy that binds a host directory read-only as /data and hides
    /data/secret under it."""
    import json
    import shutil
    import tempfile
    data = tempfile.mkdtemp(prefix="warren-sec-hide-", dir="/var/tmp")
    os.chmod(data, 0o755)
    for name in ("public", "secret"):
        os.mkdir(os.path.join(data, name), 0o755)
        with open(os.path.join(data, name, "file"), "w") as f:
            f.write(f"{name}\n")
        os.chmod(os.path.join(data, name, "file"), 0o644)
    with open(os.path.join(policy_dir, "default.json")) as f:
        pol = json.load(f)
    pol["name"] = "hiding"
    pol["mounts"] = [{"source": data, "target": "/data"}]
    pol["hide"] = ["/data/secret", "/data/public/none"]
    path = os.path.join(policy_dir, "hiding.json")
    with open(path, "w") as f:
        json.dump(pol, f)
    yield path
    os.unlink(path)
    shutil.rmtree(data)


def test_policy_hides_paths_under_its_binds(sandbox, hide_policy):
    """A policy's "hide" masks a path under its own read-only bind; the rest
    of the bind stays visible."""
    if sandbox.name == "run":
        out = sandbox.attack("hidden", "/data/secret", "/data/secret/file", options=["-p", hide_policy])
        p = subprocess.run([sandbox.warren, "run", "-p", hide_policy, "--", "cat", "/data/public/file"],
                           capture_output=True, text=True, timeout=60)
        seen = p.stdout
    else:
        out = sandbox.attack("hidden", "/data/secret", "/data/secret/file", session={"policy": "hiding"})
        sid = sandbox.daemon.create(policy="hiding")
        try:
            seen = sandbox.daemon.exec(sid, {"cmd": ["cat", "/data/public/file"]})["stdout"]
        finally:
            sandbox.daemon.delete(sid)
    out.assert_blocked()
    host_check(seen == "public\n", f"the bind itself is not there: {seen!r}")


def test_warren_run_hide_adds_to_the_policy(warren, attack_dir, hide_policy):
    """--hide adds to the policy's list (it cannot take away from it)."""
    from battery import RunBackend
    RunBackend(warren, attack_dir).attack("hidden", "/data/public", "/data/secret",
                                          options=["-p", hide_policy, "--hide", "/data/public"]).assert_blocked()
    p = subprocess.run([warren, "run", "--hide", "/workspace", "--", "true"], capture_output=True, text=True)
    host_check(p.returncode == 125 and "reserved" in p.stderr, f"--hide /workspace: {p.returncode} {p.stderr}")


def test_policy_hide_on_every_backend(backend_daemon, attack_path, hide_policy):
    """The oci runtime's maskedPaths and the engine's masks carry "hide" too."""
    from battery import DaemonBackend
    d = backend_daemon
    DaemonBackend(d, attack_path).attack("hidden", "/data/secret", "/data/secret/file",
                                         session={"policy": "hiding"}).assert_blocked()
    sid = d.create(policy="hiding")
    try:
        seen = d.exec(sid, {"cmd": ["cat", "/data/public/file"]})["stdout"]
    finally:
        d.delete(sid)
    host_check(seen == "public\n", f"the bind itself is not there: {seen!r}")
