"""The seccomp allowlist from inside a sandbox (audit items 1 and 9): vsock
and every socket family outside unix, inet, inet6 and netlink route fail
with EAFNOSUPPORT, while those keep working; a system call newer than the
filter's list fails with ENOSYS, one inside its range but not allowed with
the policy's errno. Through warren run, a native daemon session, and a
session of every other daemon backend."""

from battery import DaemonBackend

EPERM = 1


def check_controls(out):
    """The families that are kept must still open (no escape, but a sandbox
    that cannot list its interfaces or open a TCP socket is broken)."""
    assert "CONTROL FAILED" not in out.stdout, out.stdout
    assert out.stdout.count("control ok:") == 5, out.stdout


def test_vsock_socket_and_bind(sandbox):
    sandbox.attack("vsock").assert_blocked()


def test_socket_families_outside_the_allowlist(sandbox):
    check_controls(sandbox.attack("socket_families").assert_blocked())


def test_new_and_unlisted_system_calls(sandbox):
    sandbox.attack("unlisted_syscalls", str(EPERM)).assert_blocked()


def test_every_daemon_backend(backend_daemon, attack_path):
    """oci and docker hand the profile to their runtime (oci-seccomp.c)."""
    be = DaemonBackend(backend_daemon, attack_path)
    be.attack("vsock").assert_blocked()
    check_controls(be.attack("socket_families").assert_blocked())
    be.attack("unlisted_syscalls", str(EPERM)).assert_blocked()
