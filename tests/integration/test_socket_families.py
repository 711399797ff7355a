"""Socket address families (seccomp.socket_families in warren-policy(5)):
by default a sandbox opens unix, inet, inet6 and netlink route sockets and
nothing else (EAFNOSUPPORT); a policy may list more and then the kernel
answers; a request (warren run --socket-families) may only narrow the
policy's list. The same on every daemon backend."""

import json
import os
import shutil

import pytest

from daemon_fixture import assert_error, start_daemon, warrend  # noqa: F401 (fixtures)
from warrentest import BACKENDS, EXIT_SETUP, REPO, python_in_sandbox, run

EAFNOSUPPORT, EPERM = 97, 1

# (name, family, type, protocol): what each try opens; "ok" or the errno.
PROBE = r"""
import json, socket
tries = [("unix", 1, 1, 0), ("inet", 2, 1, 0), ("inet6", 10, 2, 0), ("netlink_route", 16, 3, 0),
         ("netlink_audit", 16, 3, 9), ("packet", 17, 3, 0x300), ("vsock", 40, 1, 0), ("alg", 38, 5, 0)]
out = {}
for name, family, kind, proto in tries:
    try:
        socket.socket(family, kind, proto).close()
        out[name] = "ok"
    except OSError as e:
        out[name] = e.errno
print(json.dumps(out))
"""

DEFAULT_FAMILIES = ["unix", "inet", "inet6", "netlink_route"]


def probe(warren, *args):
    r = run(warren, *args, *python_in_sandbox(PROBE))
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def write_policy(path, families, name="families"):
    path.write_text(json.dumps({"version": 1, "name": name, "seccomp": {"socket_families": families}}))
    return str(path)


def test_default_policy_opens_only_the_default_families(warren):
    got = probe(warren)
    for name in DEFAULT_FAMILIES:
        assert got[name] == "ok", got
    for name in ("netlink_audit", "packet", "vsock", "alg"):
        assert got[name] == EAFNOSUPPORT, got


def test_policy_listing_more_families_gets_them(warren, tmp_path):
    policy = write_policy(tmp_path / "p.json", DEFAULT_FAMILIES + ["packet", "netlink_audit"])
    got = probe(warren, "--policy", policy)
    # the filter lets them through, the kernel answers: an audit socket
    # needs no privilege to open, a packet socket needs CAP_NET_RAW
    assert got["netlink_audit"] == "ok", got
    assert got["packet"] == EPERM, got
    assert got["vsock"] == EAFNOSUPPORT and got["unix"] == "ok", got
    check = run(warren, "--policy", policy, "--", "true")
    assert check.returncode == 0
    assert "socket families unix, inet, inet6, netlink_route, netlink_audit, packet;" in check.stderr, check.stderr


def test_policy_check_shows_the_families(warren, tmp_path):
    import subprocess
    policy = write_policy(tmp_path / "p.json", ["vsock", "unix"])
    p = subprocess.run([warren, "policy", "check", policy], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["seccomp"]["socket_families"] == ["unix", "vsock"]
    bad = write_policy(tmp_path / "bad.json", ["unix", "AF_VSOCK"])
    p = subprocess.run([warren, "policy", "check", bad], capture_output=True, text=True)
    assert p.returncode != 0 and "seccomp.socket_families[1]:" in p.stderr, p.stderr


def test_a_request_only_narrows_the_families(warren, tmp_path):
    loosen = run(warren, "--socket-families", "unix,packet", *python_in_sandbox("print('ran')"))
    assert loosen.returncode == EXIT_SETUP
    assert "socket family packet is not allowed by policy default" in loosen.errors, loosen.stderr
    assert loosen.stdout == "", "the command ran despite a refused request"

    got = probe(warren, "--socket-families", "unix")
    assert got["unix"] == "ok", got
    assert got["inet"] == got["inet6"] == got["netlink_route"] == EAFNOSUPPORT, got

    policy = write_policy(tmp_path / "p.json", DEFAULT_FAMILIES + ["packet"])
    got = probe(warren, "--policy", policy, "--socket-families", "packet,unix")
    assert got["packet"] == EPERM and got["unix"] == "ok" and got["inet"] == EAFNOSUPPORT, got

    unknown = run(warren, "--socket-families", "unix,ipv4", "--", "true")
    assert unknown.returncode == EXIT_SETUP and "--socket-families: 'ipv4'" in unknown.errors, unknown.stderr


@pytest.mark.parametrize("backend", BACKENDS)
def test_daemon_sessions_follow_their_policy(start_daemon, tmp_path, backend):  # noqa: F811
    policy_dir = tmp_path / "policies"
    policy_dir.mkdir()
    shutil.copy(os.path.join(REPO, "policy", "default.json"), policy_dir)
    write_policy(policy_dir / "packet.json", DEFAULT_FAMILIES + ["packet"], name="packet")
    d = start_daemon("--policy-dir", str(policy_dir), backend=backend)
    for policy, packet in (("default", EAFNOSUPPORT), ("packet", EPERM)):
        sid = d.create(policy=policy)["id"]
        res = d.exec(sid, cmd=["python3", "-c", PROBE])
        assert res["exit_code"] == 0, res
        got = json.loads(res["stdout"])
        assert got["packet"] == packet and got["vsock"] == EAFNOSUPPORT, (policy, got)
        assert all(got[n] == "ok" for n in DEFAULT_FAMILIES), (policy, got)
        d.remove(sid)
    # a session request has no way to add a family
    r = d.post("/v1/sessions", {"socket_families": ["vsock"]})
    assert_error(r, 400, "bad_request", "socket_families")
