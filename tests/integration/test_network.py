"""Network isolation: by default only loopback exists and it is up; the host
network is refused unless the policy allows it, and then it is really the
host's."""

import json
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

from warrentest import EXIT_SETUP, python_in_sandbox, run

NET_PROBE = r"""
import json, socket
names = [n for _, n in socket.if_nameindex()]
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
c = socket.create_connection(srv.getsockname(), timeout=2)
s, _ = srv.accept(); c.sendall(b"ping"); echoed = s.recv(4).decode()
try:
    socket.create_connection(("192.0.2.1", 80), timeout=2)   # TEST-NET-1: never routed
    outside = "connected"
except OSError as e:
    outside = e.__class__.__name__ + ":" + str(e.errno)
print(json.dumps({"interfaces": names, "loopback": echoed, "outside": outside}))
"""


def host_interfaces():
    import socket
    return sorted(n for _, n in socket.if_nameindex())


def test_only_loopback_exists_and_it_is_up(warren):
    r = run(warren, *python_in_sandbox(NET_PROBE))
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["interfaces"] == ["lo"]
    assert got["loopback"] == "ping", "lo is not up"
    assert got["outside"] == "OSError:101", f"a route leaves the sandbox: {got['outside']}"  # ENETUNREACH


def test_net_host_is_refused_by_the_default_policy(warren):
    r = run(warren, "--net", "host", "--", "true")
    assert r.returncode == EXIT_SETUP
    assert "allow_host" in r.errors and "not allowed" in r.errors, r.stderr


def write_policy(path, **network):
    path.write_text(json.dumps({"version": 1, "name": "nettest", "network": network}))
    return str(path)


def test_net_host_works_when_the_policy_allows_it(warren, tmp_path):
    if host_interfaces() == ["lo"]:
        pytest.skip("the host has no interface but lo: cannot tell its network from a new one")
    policy = write_policy(tmp_path / "p.json", mode="none", allow_host=True)
    r = run(warren, "--policy", policy, "--net", "host", *python_in_sandbox(
        "import socket; print(' '.join(sorted(n for _, n in socket.if_nameindex())))"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == host_interfaces()
    # every time: the host's network is the host's services too, warrend's listeners included
    assert "warning: the host's network: the sandbox reaches every service of the host, warrend's listeners" \
        in r.stderr, r.stderr


def test_net_none_tightens_a_host_network_policy(warren, tmp_path):
    policy = write_policy(tmp_path / "p.json", mode="host", allow_host=True)
    r = run(warren, "--policy", policy, "--net", "none", *python_in_sandbox(
        "import socket; print(' '.join(n for _, n in socket.if_nameindex()))"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["lo"]


def test_policy_without_allow_host_cannot_ask_for_host_mode(warren, tmp_path):
    policy = write_policy(tmp_path / "p.json", mode="host", allow_host=False)
    r = run(warren, "--policy", policy, "--", "true")
    assert r.returncode == EXIT_SETUP
    assert "network.mode" in r.errors and "allow_host" in r.errors, r.stderr


def test_net_host_is_for_root_only(warren):
    d = tempfile.mkdtemp(prefix="warren-nethost-")  # readable by nobody, unlike pytest's tmp_path
    try:
        os.chmod(d, 0o755)
        policy = write_policy(pathlib.Path(d) / "p.json", mode="host", allow_host=True)
        os.chmod(policy, 0o644)
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", warren, "run",
                            "--policy", policy, "--", "true"], capture_output=True, text=True, timeout=60)
    finally:
        shutil.rmtree(d)
    assert r.returncode == EXIT_SETUP, r.stderr
    assert "--net host is for root only (policy nettest)" in r.stderr, r.stderr
