"""Network: a sandbox has no interface but lo, cannot reach the daemon's TCP
port or unix socket, any host address, an abstract unix socket of the host,
and cannot open raw or packet sockets. Host-side listeners check that no
connection ever arrived."""

import json
import os
import secrets
import socket
import subprocess

import pytest

from battery import RunBackend, host_check


def host_ipv4_addresses():
    out = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True).stdout
    addrs = [line.split()[3].split("/")[0] for line in out.splitlines()]
    return [a for a in addrs if not a.startswith("127.")]


@pytest.fixture
def host_listeners():
    """A TCP listener on every host address and an abstract unix socket;
    after the test none of them may have a pending connection."""
    tcp = socket.socket()
    tcp.bind(("0.0.0.0", 0))
    tcp.listen(16)
    tcp.setblocking(False)
    abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    name = f"warren-sec-{secrets.token_hex(4)}"
    abstract.bind("\0" + name)
    abstract.listen(16)
    abstract.setblocking(False)
    yield tcp.getsockname()[1], name
    for s, what in ((tcp, "host TCP listener"), (abstract, "host abstract unix socket")):
        try:
            conn, peer = s.accept()
            conn.close()
            host_check(False, f"the {what} got a connection from {peer!r}")
        except BlockingIOError:
            host_check(True, "")
        s.close()


def test_no_interface_but_lo(sandbox):
    sandbox.attack("ifaces").assert_blocked()


def test_connect_to_the_daemon_tcp_port_and_unix_socket(sandbox, daemon, host_listeners):
    port, abstract = host_listeners
    sandbox.attack("connect", f"127.0.0.1:{daemon.port}", f"unix:{daemon.sock}", f"abstract:{abstract}",
                   f"127.0.0.1:{port}").assert_blocked()
    host_check(daemon.alive(), "warrend stopped answering")


def test_connect_to_host_addresses(sandbox, host_listeners):
    port, _ = host_listeners
    targets = [f"{a}:{p}" for a in host_ipv4_addresses() for p in (port, 22, 53, 80)]
    targets += ["192.0.2.1:53", "8.8.8.8:53", "1.1.1.1:443", "169.254.169.254:80"]
    sandbox.attack("connect", *targets).assert_blocked()


def test_raw_and_packet_sockets(sandbox):
    sandbox.attack("raw").assert_blocked()


# --- egress sandboxes ------------------------------------------------------------------
# (warren run only for now: sessions get egress with warrend's part of issue 16)

from netlab import host_state, start_lab  # noqa: E402  (tests/integration, on the path through battery)


@pytest.fixture(scope="module")
def lab():
    lab = start_lab({"www.allowed.test": 1, "evil.test": 3}, metadata=True)
    yield lab
    lab.stop()


@pytest.fixture
def egress_policy(lab, tmp_path):
    path = tmp_path / "egress.json"
    path.write_text(json.dumps({"version": 1, "name": "battery-egress", "network": {
        "mode": "egress", "allow": [f"{lab.addr(1)}:8080", "*.allowed.test"], "interface": lab.host_if,
        "resolvers": [lab.lab_addr]}}))
    os.chmod(tmp_path, 0o755)
    yield str(path)
    state = host_state()
    host_check(state == {"table": [], "links": [], "pool_addresses": []}, f"egress left behind: {state}")


def test_egress_sandbox_reaches_nothing_it_is_not_allowed(warren, attack_dir, lab, egress_policy, host_listeners):
    port, _ = host_listeners
    seen, asked = len(lab.connections()), len(lab.names_asked())
    targets = [f"{a}:{p}" for a in host_ipv4_addresses() for p in (port, 22, 53)]
    targets += [f"{lab.host_addr}:{port}", f"{lab.addr(3)}:8080", f"{lab.addr(1)}:8081", f"{lab.lab_addr}:53",
                "169.254.169.254:8080", "169.254.169.254:80"]
    targets += [f"10.231.0.{n}:9000" for n in (1, 3, 5)]  # other sandboxes' (its own is skipped)
    RunBackend(warren, attack_dir).attack("egress", *targets, options=("--policy", egress_policy),
                                          timeout=240).assert_blocked()
    host_check(len(lab.connections()) == seen, f"the lab was reached: {lab.connections()[seen:]}")
    host_check(len(lab.names_asked()) == asked, f"names were asked upstream: {lab.names_asked()[asked:]}")


def test_egress_sandbox_has_no_raw_sockets(warren, attack_dir, lab, egress_policy):
    RunBackend(warren, attack_dir).attack("raw", options=("--policy", egress_policy)).assert_blocked()


def test_egress_positive_control(warren, lab, egress_policy):
    """What the attempts above were refused, an allowed address and name get:
    the refusals are the rules', not a broken link."""
    code = ("import socket; a = socket.getaddrinfo('www.allowed.test', 8080, socket.AF_INET)[0][4][0]; "
            "s = socket.create_connection((a, 8080), timeout=5); print(s.recv(100).decode().strip())")
    p = subprocess.run([warren, "run", "--policy", egress_policy, "--", "python3", "-c", code],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(f"OK {lab.addr(1)} {lab.host_addr}"), p.stdout
