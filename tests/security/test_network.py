"""Network: a sandbox has no interface but lo, cannot reach the daemon's TCP
port or unix socket, any host address, an abstract unix socket of the host,
and cannot open raw or packet sockets. Host-side listeners check that no
connection ever arrived."""

import os
import secrets
import socket
import subprocess

import pytest

from battery import host_check


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
