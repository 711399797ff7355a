"""The contract's in-sandbox settings, once per warrend backend (native,
oci with runc, docker against podman's API service): seccomp mode 2,
no_new_privs, empty capability sets, nosuid mounts, only `lo`, the sandbox
user (uid and gid 1000, no other group), a read-only root and /usr, and the
policy's rlimits. The rest of the battery attacks the native backend; these
are the layers every backend promises (warrend.conf(5), BACKENDS).

Where a backend legitimately differs, its documented behaviour is asserted:
docker without user namespace remapping runs the sandbox user as the host's
uid 1000, where native and oci map it into a host uid range of their own.
"""

import pytest

from battery import DaemonBackend, host_check, policy_rlimits
from warrentest import SANDBOX_UID, UID_RANGE_SIZE, in_sandbox_range


@pytest.fixture(scope="module")
def daemon(backend_daemon):
    """Every test here runs once per backend (conftest's backend_daemon)."""
    return backend_daemon


@pytest.fixture(scope="module")
def attacker(daemon, attack_path):
    return DaemonBackend(daemon, attack_path)


# The mounts each backend makes nosuid (warrend.conf(5), BACKENDS). oci:
# the root is the runtime's bind of the bundle's skeleton directory (warren's
# own directories and files, none set-ID, read-only). docker: the root (and
# /usr in it) is the engine's mount of the image. There no_new_privs, checked
# on every backend, keeps set-ID programs from raising anything.
EVERY_MOUNT = ["/", "/usr", "/workspace", "/tmp", "/dev/shm", "/dev"]
NOSUID = {"native": EVERY_MOUNT, "oci": EVERY_MOUNT[1:], "docker": EVERY_MOUNT[2:]}


def test_seccomp_no_new_privs_no_capabilities_nosuid(daemon, attacker):
    attacker.attack("caps", *NOSUID[daemon.backend]).assert_blocked()


def test_only_lo(attacker):
    attacker.attack("ifaces").assert_blocked()


def test_sandbox_user_and_read_only_root(attacker):
    attacker.attack("identity", str(SANDBOX_UID), str(SANDBOX_UID)).assert_blocked()


def test_policy_rlimits(attacker):
    rl = policy_rlimits()
    attacker.attack("rlimits", rl["core"], rl["nofile"], rl["fsize"]).assert_blocked()


def test_host_uid_of_the_sandbox_user(daemon):
    """native and oci: uid 1000 inside is a host uid of the session's own
    range. docker (no userns remapping, as the test suite's podman runs):
    the host's uid 1000, as warrend.conf(5) says."""
    sid = daemon.create()
    try:
        r = daemon.exec(sid, {"cmd": ["cat", "/proc/self/uid_map"]})
    finally:
        daemon.delete(sid)
    assert r["exit_code"] == 0, r
    host_uid = None
    for line in r["stdout"].splitlines():
        inside, outside, count = map(int, line.split())
        if inside <= SANDBOX_UID < inside + count:
            host_uid = outside + SANDBOX_UID - inside
    if daemon.backend == "docker":
        host_check(host_uid == SANDBOX_UID, f"docker: uid 1000 is host uid {host_uid}: {r['stdout']!r}")
    else:
        host_check(in_sandbox_range(host_uid) and host_uid % UID_RANGE_SIZE == SANDBOX_UID,
                   f"{daemon.backend}: uid 1000 is host uid {host_uid}, not one of a sandbox range: {r['stdout']!r}")
