"""Network: a sandbox has no interface but lo, cannot reach the daemon's TCP
port or unix socket, any host address, an abstract unix socket of the host,
and cannot open raw or packet sockets. Host-side listeners check that no
connection ever arrived."""

import json
import os
import secrets
import shutil
import socket
import subprocess

import pytest

from battery import Daemon, DaemonBackend, RunBackend, host_check


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
# warren run's, then a daemon session's (its own warrend per test: its egress pool must be
# gone, drained, before the host is checked)

from netlab import host_state, start_lab  # noqa: E402  (tests/integration, on the path through battery)


@pytest.fixture(scope="module")
def lab():
    lab = start_lab({"www.allowed.test": 1, "evil.test": 3}, metadata=True)
    yield lab
    lab.stop()


def write_egress_policy(directory, lab):
    path = os.path.join(directory, "battery-egress.json")
    with open(path, "w") as f:
        json.dump({"version": 1, "name": "battery-egress", "network": {
            "mode": "egress", "allow": [f"{lab.addr(1)}:8080", "*.allowed.test"], "interface": lab.host_if,
            "resolvers": [lab.lab_addr]}}, f)
    return path


@pytest.fixture
def egress_policy(lab, tmp_path):
    os.chmod(tmp_path, 0o755)
    yield write_egress_policy(str(tmp_path), lab)
    state = host_state()
    host_check(state == {"table": [], "links": [], "pool_addresses": []}, f"egress left behind: {state}")


@pytest.fixture
def egress_daemon(warrend_bin, lab, tmp_path, policy_dir):
    """A warrend of its own with the battery's policies and battery-egress;
    stopped (drained) after the test, and then nothing of egress remains."""
    policies = str(tmp_path / "policies")
    shutil.copytree(policy_dir, policies)
    write_egress_policy(policies, lab)
    d = Daemon(warrend_bin, str(tmp_path), policies)
    try:
        yield d
    finally:
        alive = d.alive()
        log = d.output()[-2000:]
        d.stop()
        host_check(alive, f"warrend died during the test: {log}")
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


def egress_targets(lab, *ports):
    """Everything an egress sandbox allowed lab.addr(1):8080 and *.allowed.test must not reach."""
    targets = [f"{a}:{p}" for a in host_ipv4_addresses() for p in (*ports, 22, 53)]
    targets += [f"{lab.host_addr}:{p}" for p in ports]
    targets += [f"{lab.addr(3)}:8080", f"{lab.addr(1)}:8081", f"{lab.lab_addr}:53",
                "169.254.169.254:8080", "169.254.169.254:80"]
    return targets + [f"10.231.0.{n}:9000" for n in (1, 3, 5)]  # other sandboxes' (its own is skipped)


def test_egress_session_reaches_nothing_it_is_not_allowed(egress_daemon, attack_path, lab, host_listeners):
    """A daemon session with egress: warrend's own port on every host address,
    the host's other ports, the lab's other addresses and ports, the metadata
    address, other sandboxes (the pool holds some), the upstream resolver."""
    port, _ = host_listeners
    seen, asked = len(lab.connections()), len(lab.names_asked())
    DaemonBackend(egress_daemon, attack_path).attack(
        "egress", *egress_targets(lab, port, egress_daemon.port), session={"policy": "battery-egress"},
        timeout="240s").assert_blocked()
    host_check(len(lab.connections()) == seen, f"the lab was reached: {lab.connections()[seen:]}")
    host_check(len(lab.names_asked()) == asked, f"names were asked upstream: {lab.names_asked()[asked:]}")


def test_egress_session_has_no_raw_sockets(egress_daemon, attack_path):
    DaemonBackend(egress_daemon, attack_path).attack("raw", session={"policy": "battery-egress"}).assert_blocked()


def test_egress_session_cannot_be_widened_nor_changed_by_another_token(egress_daemon, lab):
    """PATCH stays within the policy's list, and only the session's own token
    may send it; the positive control: what the attempts above were refused,
    an allowed address and name get."""
    d = egress_daemon
    sid = d.create(policy="battery-egress")
    try:
        wide = {"network": {"allow": ["0.0.0.0/0"]}}
        r = d.request("PATCH", f"/v1/sessions/{sid}", wide)
        host_check(r.status == 400, f"PATCH widened the allowlist: {r.status} {r.body!r}")
        r = d.request("PATCH", f"/v1/sessions/{sid}", {"network": {"allow": [f"{lab.addr(1)}:8080"]}}, who="bob")
        host_check(r.status == 404, f"another token changed the allowlist: {r.status} {r.body!r}")
        r = d.request("POST", "/v1/sessions", {"policy": "battery-egress", "network": {"mode": "host"}})
        host_check(r.status == 400, f"a session asked for the host network: {r.status} {r.body!r}")
        code = ("import socket; a = socket.getaddrinfo('www.allowed.test', 8080, socket.AF_INET)[0][4][0]; "
                "s = socket.create_connection((a, 8080), timeout=5); print(s.recv(100).decode().strip())")
        res = d.exec(sid, {"cmd": ["python3", "-c", code]})
        assert res["exit_code"] == 0, res
        assert res["stdout"].startswith(f"OK {lab.addr(1)} {lab.host_addr}"), res
    finally:
        d.delete(sid)
