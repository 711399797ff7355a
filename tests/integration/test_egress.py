"""Network egress (`warren run --net egress`): the sandbox reaches what the
allowlist names and nothing else, through warren's own link, NAT and
nftables table, and a resolver that answers allowed names only.

Every destination is an address of the test's own namespace (netlab.py):
no packet of these tests can leave the machine, even if warren is wrong.
"""

import json
import os
import signal
import socket
import subprocess
import time

import pytest

from netlab import PROBE, NetLab, forwarding, host_ipv4_addresses, host_listener, host_state
from warrentest import EXIT_SETUP, python_in_sandbox, run, warren_cgroups

RESOLVE = r"""
import json, socket, sys
out = {}
for name in json.loads(sys.argv[1]):
    try:
        out[name] = sorted({a[4][0] for a in socket.getaddrinfo(name, 8080, socket.AF_INET, socket.SOCK_STREAM)})
    except socket.gaierror as e:
        out[name] = f"gaierror:{e.errno}"
print(json.dumps(out))
"""

# Resolves each name, then connects to it on 8080: two JSON lines.
RESOLVE_AND_CONNECT = RESOLVE + PROBE.replace("json.loads(sys.argv[1])", "[n + ':8080' for n in json.loads(sys.argv[1])]")


@pytest.fixture(scope="module")
def lab(warren):
    if subprocess.run(["which", "nft"], capture_output=True).returncode != 0:
        pytest.skip("no nft binary to read warren's table with (apt-get install nftables)")
    lab = NetLab()
    table = {"www.allowed.test": lab.addr(1), "other.allowed.test": lab.addr(2), "evil.test": lab.addr(3),
             "inside.allowed.test": "10.98.0.1"}
    lab.start(table)
    yield lab
    lab.stop()


@pytest.fixture(autouse=True)
def nothing_left(lab):
    """Every test ends with nothing of warren's on the host: no table, link,
    pool address, and the lab interface's forwarding as it was."""
    assert forwarding(lab.host_if) == "0"
    yield
    state = host_state()
    assert state == {"table": [], "links": [], "pool_addresses": []}, f"left behind: {state}"
    assert forwarding(lab.host_if) == "0", "the egress interface's forwarding was left on"


def policy(tmp_path, lab, allow, **extra):
    net = {"mode": "egress", "allow": allow, "interface": lab.host_if, "resolvers": [lab.lab_addr], **extra}
    path = tmp_path / "egress.json"
    path.write_text(json.dumps({"version": 1, "name": "egress-test", "network": net}))
    return str(path)


def probe(warren, pol, targets, *extra):
    r = run(warren, "--policy", pol, *extra, *python_in_sandbox(PROBE), json.dumps(targets))
    assert r.returncode == 0, r.stderr
    return {t: (how, what) for t, how, what in json.loads(r.stdout)}


def test_allowed_address_is_reached_through_nat(warren, lab, tmp_path):
    pol = policy(tmp_path, lab, [f"{lab.addr(1)}:8080"])
    got = probe(warren, pol, [f"{lab.addr(1)}:8080"])
    how, what = got[f"{lab.addr(1)}:8080"]
    assert how == "connected", got
    # the lab has no route back to the pool: the answer came because the host's address was the source
    assert what == f"OK {lab.addr(1)} {lab.host_addr}", what


def test_not_allowed_addresses_are_refused(warren, lab, tmp_path):
    pol = policy(tmp_path, lab, [f"{lab.addr(1)}:8080"])
    before = len(lab.connections())
    targets = [f"{lab.addr(2)}:8080", f"{lab.addr(1)}:8081", f"{lab.lab_addr}:8080"]
    got = probe(warren, pol, targets)
    assert all(how == "refused" for how, _ in got.values()), got
    assert len(lab.connections()) == before, "a refused connection reached the lab"


def test_run_narrows_the_allowlist(warren, lab, tmp_path):
    pol = policy(tmp_path, lab, [f"198.19.{lab.k}.0/24:8080"])
    got = probe(warren, pol, [f"{lab.addr(1)}:8080", f"{lab.addr(2)}:8080"], "--allow", f"{lab.addr(2)}:8080")
    assert got[f"{lab.addr(1)}:8080"][0] == "refused", got
    assert got[f"{lab.addr(2)}:8080"][0] == "connected", got


def resolve_and_connect(warren, pol, name):
    """What `name` resolves to in the sandbox, and its connection to it on 8080."""
    r = run(warren, "--policy", pol, *python_in_sandbox(RESOLVE_AND_CONNECT), json.dumps([name]))
    assert r.returncode == 0, r.stderr
    names, conns = (json.loads(l) for l in r.stdout.splitlines())
    return names, conns


def test_allowed_domain_resolves_and_connects(warren, lab, tmp_path):
    pol = policy(tmp_path, lab, ["*.allowed.test"])
    names, conns = resolve_and_connect(warren, pol, "www.allowed.test")
    assert names == {"www.allowed.test": [lab.addr(1)]}
    assert conns[0][:2] == ["www.allowed.test:8080", "connected"], conns


def test_other_domains_are_nxdomain_and_their_addresses_refused(warren, lab, tmp_path):
    pol = policy(tmp_path, lab, ["www.allowed.test"])
    asked = len(lab.names_asked())
    r = run(warren, "--policy", pol, *python_in_sandbox(RESOLVE), json.dumps(["evil.test", "other.allowed.test"]))
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got == {"evil.test": f"gaierror:{socket.EAI_NONAME}", "other.allowed.test": f"gaierror:{socket.EAI_NONAME}"}
    assert lab.names_asked()[asked:] == [], "a refused name was asked upstream"
    assert "refused to resolve evil.test" in r.stderr
    # nor does the address an unallowed name has work directly
    got = probe(warren, pol, [f"{lab.addr(3)}:8080", f"{lab.addr(2)}:8080"])
    assert all(how == "refused" for how, _ in got.values()), got


def test_a_name_resolving_into_a_private_range_is_refused(warren, lab, tmp_path):
    """An allowed name cannot point a sandbox into a private network."""
    pol = policy(tmp_path, lab, ["*.allowed.test"])
    names, conns = resolve_and_connect(warren, pol, "inside.allowed.test")
    assert names == {"inside.allowed.test": ["10.98.0.1"]}
    assert conns[0][1] == "refused", conns


def test_host_addresses_are_unreachable(warren, lab, tmp_path):
    with host_listener() as port:
        # even with an allowlist that names them all: the host's own addresses are never the sandbox's way out
        pol = policy(tmp_path, lab, ["0.0.0.0/0"])
        targets = [f"{a}:{port}" for a in host_ipv4_addresses()] + [f"{lab.host_addr}:{port}", f"10.231.0.0:{port}"]
        got = probe(warren, pol, targets)
    for t, (how, what) in got.items():
        # 127.0.0.1 is the sandbox's own loopback: refused there, never the host's
        assert how == "refused", (t, what)


def test_metadata_address_is_unreachable(warren, lab, tmp_path):
    lab.add_metadata_address()
    try:
        # the control: from the host the address leads to the lab's server
        with socket.create_connection(("169.254.169.254", 8080), timeout=5) as s:
            assert s.recv(100).startswith(b"OK 169.254.169.254")
        before = len(lab.connections())
        pol = policy(tmp_path, lab, ["0.0.0.0/0"])
        got = probe(warren, pol, ["169.254.169.254:8080", "169.254.169.254:80"])
        assert all(how == "refused" for how, _ in got.values()), got
        assert len(lab.connections()) == before, "the metadata address answered a sandbox"
    finally:
        subprocess.run(["ip", "route", "del", "169.254.169.254/32"], capture_output=True)
        lab.metadata = False


SERVE = r"""
import socket, subprocess, sys
addr = subprocess.run(["ip", "-4", "-o", "addr", "show", "eth0"], capture_output=True, text=True).stdout.split()[3]
srv = socket.socket(); srv.bind(("0.0.0.0", 9000)); srv.listen(4); srv.settimeout(20)
print(addr.split("/")[0], flush=True)
try:
    c, peer = srv.accept(); print("ACCEPTED", peer, flush=True)
except OSError:
    print("NOTHING", flush=True)
"""


def test_two_egress_sandboxes_cannot_reach_each_other(warren, lab, tmp_path):
    pol = policy(tmp_path, lab, ["0.0.0.0/0"])
    a = subprocess.Popen([warren, "run", "--policy", pol, "--", "python3", "-c", SERVE], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        addr_a = a.stdout.readline().strip()
        assert addr_a.startswith("10.231."), (addr_a, a.stderr.read() if a.poll() is not None else "")
        gateway_a = addr_a.rsplit(".", 1)[0] + "." + str(int(addr_a.rsplit(".", 1)[1]) - 1)
        got = probe(warren, pol, [f"{addr_a}:9000", f"{gateway_a}:9000"])
        assert all(how == "refused" for how, _ in got.values()), got
    finally:
        a.send_signal(signal.SIGTERM)
        out, err = a.communicate(timeout=30)
    assert "ACCEPTED" not in out, out


def test_connection_limit(warren, lab, tmp_path):
    pol = policy(tmp_path, lab, [f"{lab.addr(9)}:8080"], connections=2)
    code = r"""
import socket
held = []
for i in range(3):
    try:
        s = socket.create_connection((%r, 8080), timeout=5); s.recv(100); held.append(s); print("open", i)
    except OSError as e:
        print("refused", i, e.errno)
""" % lab.addr(9)
    r = run(warren, "--policy", pol, *python_in_sandbox(code))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:3] == ["open 0", "open 1", f"refused 2 {113}"], r.stdout  # EHOSTUNREACH


def test_bandwidth_limit_is_a_token_bucket_on_both_ends(warren, lab, tmp_path):
    pol = policy(tmp_path, lab, [f"{lab.addr(1)}:8080"], bandwidth="1M")
    p = subprocess.Popen([warren, "run", "-v", "--policy", pol, "--", "sh", "-c",
                          "/usr/sbin/tc qdisc show dev eth0; sleep 30"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        inside = p.stdout.readline()
        links = host_state(settle=0)["links"]
        host_side = subprocess.run(["tc", "qdisc", "show", "dev", links[0]], capture_output=True, text=True).stdout
    finally:
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=30)
    assert "tbf" in inside and "rate 8388Kbit" in inside, inside
    assert "tbf" in host_side and "rate 8388Kbit" in host_side, host_side


def test_requests_that_would_widen_are_refused(warren, lab, tmp_path):
    pol = policy(tmp_path, lab, [f"{lab.addr(1)}:8080", "*.allowed.test"])
    r = run(warren, "--policy", pol, "--allow", f"{lab.addr(2)}:8080", "--", "true")
    assert r.returncode == EXIT_SETUP
    assert f"--allow {lab.addr(2)}:8080 is not within the allowlist of policy egress-test" in r.errors, r.stderr
    r = run(warren, "--policy", pol, "--allow", "allowed.test", "--", "true")
    assert r.returncode == EXIT_SETUP and "not within the allowlist" in r.errors, r.stderr
    r = run(warren, "--net", "none", "--allow", "pypi.org", "--", "true")
    assert r.returncode == EXIT_SETUP and "--allow is for --net egress" in r.errors, r.stderr
    r = run(warren, "--net", "egress", "--", "true")  # the default policy has no egress
    assert r.returncode == EXIT_SETUP and "egress is not allowed by policy default" in r.errors, r.stderr


def test_net_none_narrows_an_egress_policy(warren, lab, tmp_path):
    pol = policy(tmp_path, lab, ["0.0.0.0/0"])
    r = run(warren, "--policy", pol, "--net", "none", *python_in_sandbox(
        "import socket; print(' '.join(n for _, n in socket.if_nameindex()))"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["lo"]


def test_verbose_says_what_was_set_up(warren, lab, tmp_path):
    pol = policy(tmp_path, lab, [f"{lab.addr(1)}:8080", "*.allowed.test"], connections=8)
    r = run(warren, "--policy", pol, "--", "true")
    assert r.returncode == 0, r.stderr
    assert f"network: egress, sandbox address 10.231." in r.stderr
    assert f"out by {lab.host_if}" in r.stderr
    assert f"network: allowed: {lab.addr(1)}:8080, *.allowed.test" in r.stderr
    assert f"answers allowed names from {lab.lab_addr}:53, others NXDOMAIN" in r.stderr


def test_killed_warren_run_leaves_nothing_the_next_run_does_not_clean(warren, lab, tmp_path):
    pol = policy(tmp_path, lab, [f"{lab.addr(1)}:8080"])
    p = subprocess.Popen([warren, "run", "--policy", pol, "--", "sleep", "60"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not host_state(settle=0)["links"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert host_state(settle=0)["links"], "the sandbox's link never appeared"
    p.send_signal(signal.SIGKILL)
    p.wait()
    # init dies with it (PDEATHSIG), and its namespace takes the link along; the rules stay
    assert host_state(settle=30)["table"] == ["table inet warren"], "expected the killed run's rules to be left to sweep"
    assert forwarding(lab.host_if) == "1"
    got = probe(warren, pol, [f"{lab.addr(1)}:8080"])  # this run sweeps them, then removes its own
    assert got[f"{lab.addr(1)}:8080"][0] == "connected"
    # nothing_left checks the host after this; the killed run's cgroup (not this test's
    # subject) is removed here, once its processes are gone
    for d in warren_cgroups():
        if os.path.basename(d).startswith(f"run-{p.pid}-"):
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    os.rmdir(d)
                    break
                except OSError:
                    time.sleep(0.1)


V6_SERVER = r"""
import socket, socketserver
class S(socketserver.ThreadingTCPServer):
    address_family = socket.AF_INET6
    allow_reuse_address = True
class H(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.sendall(("OK6 %s\n" % self.client_address[0]).encode())
S(("::", 8080), H).serve_forever()
"""


def test_ipv6_egress_in_a_host_of_the_tests_own(warren, tmp_path):
    """IPv6 egress needs the host to forward IPv6, which warren does not turn
    on (and neither does this test, on the real host): warren runs in a
    network namespace standing in for the host, with forwarding on, joined
    to a lab namespace by a veth with 2001:db8:77::/64 (documentation
    addresses, nowhere but here)."""
    tag = f"{os.getpid() % 100000:05d}"
    host_ns, lab_ns = f"wt6h-{tag}", f"wt6l-{tag}"
    sh = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
    server = None
    try:
        sh("ip", "netns", "add", host_ns)
        sh("ip", "netns", "add", lab_ns)
        sh("ip", "link", "add", "wt6a", "netns", host_ns, "type", "veth", "peer", "name", "wt6b", "netns", lab_ns)
        for ns, dev, addr in ((host_ns, "wt6a", "2001:db8:77::1"), (lab_ns, "wt6b", "2001:db8:77::2")):
            sh("ip", "-n", ns, "addr", "add", f"{addr}/64", "dev", dev, "nodad")
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "netns", "exec", host_ns, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
        server = subprocess.Popen(["ip", "netns", "exec", lab_ns, "/usr/bin/python3", "-c", V6_SERVER])
        pol = tmp_path / "v6.json"
        pol.write_text(json.dumps({"version": 1, "name": "v6", "network": {
            "mode": "egress", "allow": ["[2001:db8:77::2]:8080"], "pool6": "fd00:77::/64", "interface": "wt6a",
            "resolvers": ["192.0.2.53"]}}))
        code = r"""
import socket, time
for i in range(100):  # the lab's server may still be starting
    try:
        s = socket.create_connection(("2001:db8:77::2", 8080), timeout=5); print(s.recv(100).decode().strip()); break
    except ConnectionRefusedError:
        time.sleep(0.1)
try:
    socket.create_connection(("2001:db8:77::2", 8081), timeout=5); print("connected 8081")
except OSError as e:
    print("refused", e.errno)
"""
        # nsenter rather than `ip netns exec`, which would remount /sys (and hide the cgroups)
        p = subprocess.run(["nsenter", f"--net=/run/netns/{host_ns}", warren, "run", "-v", "--policy", str(pol),
                            "--", "python3", "-c", code], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        assert "sandbox address 10.231.0." in p.stderr and " and fd00:77::" in p.stderr, p.stderr
        # NAT66: the lab saw the host's address; a port not allowed is refused (EACCES: ICMPv6 prohibited)
        assert p.stdout.split("\n")[:2] == ["OK6 2001:db8:77::1", f"refused {13}"], p.stdout
        tables = subprocess.run(["nsenter", f"--net=/run/netns/{host_ns}", "nft", "list", "tables"],
                                capture_output=True, text=True).stdout
        assert "warren" not in tables, tables
    finally:
        if server:
            server.kill()
            server.wait()
        subprocess.run(["ip", "netns", "del", lab_ns], capture_output=True)
        subprocess.run(["ip", "netns", "del", host_ns], capture_output=True)


def test_ipv6_egress_needs_the_host_to_forward_ipv6(warren, lab, tmp_path):
    with open("/proc/sys/net/ipv6/conf/all/forwarding") as f:
        if f.read().strip() != "0":
            pytest.skip("this host forwards IPv6 already: the refusal cannot be seen here")
    pol = policy(tmp_path, lab, [f"{lab.addr(1)}:8080"], pool6="fd00:77::/64")
    r = run(warren, "--policy", pol, "--", "true")
    assert r.returncode == EXIT_SETUP
    assert "IPv6 egress (network.pool6) needs the host to forward IPv6" in r.errors, r.stderr
