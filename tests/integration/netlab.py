"""The egress tests' own "internet": a network namespace joined to the host
by a veth pair, with addresses in 198.18.0.0/15 (the benchmarking range), a
small TCP server answering on every one of them and a small DNS server.

No test packet can leave the machine: every destination a test tries,
allowed or forbidden, is an address of this namespace, routed to it from
the host through the veth; warren's egress interface is that veth. For the
metadata check the namespace also takes 169.254.169.254, with a host route
for that /32 through the veth while the check runs, so a leak is answered
by the lab's own server and seen, never sent out.

Lab k (random, so two test runs can share the host): the link is
198.18.k.0/24 (host .1, lab .2); the servers' addresses are 198.19.k.N/32
on the lab's lo, routed from the host via 198.18.k.2. The TCP server on
port 8080 answers "OK <address it was reached on> <peer>" and logs each
connection (on .9, "BYE" once the client sends a byte, keeping the
connection open until then); the DNS server answers A records from its table (NXDOMAIN
otherwise) and logs each name asked.
"""

import contextlib
import json
import os
import random
import socket
import subprocess
import tempfile
import time

TCP_SERVER = r"""
import socketserver, sys, threading
log = open(sys.argv[1], "a", buffering=1)
lock = threading.Lock()
class H(socketserver.BaseRequestHandler):
    def handle(self):
        here = self.request.getsockname()[0]
        with lock:
            log.write(f"{here} {self.client_address[0]}\n")
        self.request.sendall(f"OK {here} {self.client_address[0]}\n".encode())
        if here.endswith(".9"):  # the "hold" address keeps connections open (connection limits)
            if self.request.recv(1):  # and answers a byte: the connection still passes
                self.request.sendall(b"BYE\n")
class S(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
S(("0.0.0.0", 8080), H).serve_forever()
"""

# Enough DNS to answer A queries from a table (socketserver: no reverse lookups).
DNS_SERVER = r"""
import json, socket, struct, sys
table = json.loads(sys.argv[2])
log = open(sys.argv[1], "a", buffering=1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 53))
while True:
    msg, peer = s.recvfrom(4096)
    if len(msg) < 12:
        continue
    qid, flags = struct.unpack("!HH", msg[:4])
    off, labels = 12, []
    while off < len(msg) and msg[off]:
        labels.append(msg[off + 1:off + 1 + msg[off]].decode(errors="replace"))
        off += 1 + msg[off]
    qtype = struct.unpack("!H", msg[off + 1:off + 3])[0] if off + 3 <= len(msg) else 0
    question = msg[12:off + 5]
    name = ".".join(labels).lower()
    log.write(f"{name} {qtype}\n")
    addr = table.get(name)
    answers = b""
    if addr and qtype == 1:
        answers = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 30, 4) + socket.inet_aton(addr)
    rcode = 0 if addr else 3
    head = struct.pack("!HHHHHH", qid, 0x8180 | rcode | (flags & 0x0100), 1, 1 if answers else 0, 0, 0)
    s.sendto(head + question + answers, peer)
"""


# Run in a sandbox: connects to each "host:port" of argv[1] (JSON) and prints one JSON line,
# [[target, "connected", what the server said] or [target, "refused", "Error:errno"], ...].
PROBE = r"""
import json, socket, sys
out = []
for target in json.loads(sys.argv[1]):
    host, port = target.rsplit(":", 1)
    try:
        s = socket.create_connection((host, int(port)), timeout=5)
        s.settimeout(5)
        out.append([target, "connected", s.recv(200).decode().strip()])
    except OSError as e:
        out.append([target, "refused", f"{e.__class__.__name__}:{e.errno}"])
print(json.dumps(out))
"""


def start_lab(dns_table, metadata=False):
    """A started lab for a module's fixture; skips (visibly) without root or nft."""
    import pytest
    if os.geteuid() != 0:
        pytest.skip("needs root: the lab is a network namespace")
    if subprocess.run(["which", "nft"], capture_output=True).returncode != 0:
        pytest.skip("no nft binary to read warren's table with (apt-get install nftables)")
    lab = NetLab()
    lab.start({k: lab.addr(v) if isinstance(v, int) else v for k, v in dns_table.items()})
    if metadata:
        lab.add_metadata_address()
    return lab


def host_ipv4_addresses():
    out = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True).stdout
    return [line.split()[3].split("/")[0] for line in out.splitlines()]


@contextlib.contextmanager
def host_listener():
    """A TCP listener on every host address (its port is yielded): no
    connection may have reached it when the block ends."""
    listener = socket.socket()
    try:
        listener.bind(("0.0.0.0", 0))
        listener.listen(16)
        listener.setblocking(False)
        yield listener.getsockname()[1]
        try:
            conn, peer = listener.accept()
            conn.close()
            raise AssertionError(f"the host's listener got a connection from {peer}")
        except BlockingIOError:
            pass
    finally:
        listener.close()


def sh(*args, check=True):
    return subprocess.run(args, capture_output=True, text=True, check=check)


class NetLab:
    def __init__(self):
        self.k = random.randint(1, 250)
        tag = f"{os.getpid() % 10000:04d}{self.k:03d}"
        self.ns = f"wtlab-{tag}"
        self.host_if = f"wtl{tag}"      # warren's egress interface in the tests
        self.lab_if = "eth0"
        self.host_addr = f"198.18.{self.k}.1"
        self.lab_addr = f"198.18.{self.k}.2"
        self.dir = tempfile.mkdtemp(prefix="warren-netlab-")
        self.procs = []
        self.routes = []
        self.metadata = False

    def addr(self, n):
        """The lab's address number n (198.19.k.n)."""
        return f"198.19.{self.k}.{n}"

    def start(self, dns_table):
        try:
            self._start(dns_table)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, dns_table):
        sh("ip", "netns", "add", self.ns)
        sh("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.lab_if, "netns", self.ns)
        # a host interface that does not forward, as warren's egress
        # interface is until warren turns it on: a new interface copies
        # net.ipv4.conf.default.forwarding, which a container engine on
        # the host (podman's networks) may have set to 1
        with open(f"/proc/sys/net/ipv4/conf/{self.host_if}/forwarding", "w") as f:
            f.write("0")
        sh("ip", "addr", "add", f"{self.host_addr}/24", "dev", self.host_if)
        sh("ip", "link", "set", self.host_if, "up")
        netns = ["ip", "-n", self.ns]
        sh(*netns, "addr", "add", f"{self.lab_addr}/24", "dev", self.lab_if)
        for n in range(1, 10):
            sh(*netns, "addr", "add", f"{self.addr(n)}/32", "dev", "lo")
        sh(*netns, "link", "set", self.lab_if, "up")
        sh(*netns, "link", "set", "lo", "up")
        # no default route in the lab: a reply reaches the host only when warren's NAT made
        # the host's veth address the peer
        sh("ip", "route", "add", f"198.19.{self.k}.0/24", "via", self.lab_addr, "dev", self.host_if)
        self.tcp_log = os.path.join(self.dir, "tcp.log")
        self.dns_log = os.path.join(self.dir, "dns.log")
        for path in (self.tcp_log, self.dns_log):
            open(path, "w").close()
        self.procs.append(subprocess.Popen(["ip", "netns", "exec", self.ns, "/usr/bin/python3", "-c", TCP_SERVER, self.tcp_log]))
        self.procs.append(subprocess.Popen(["ip", "netns", "exec", self.ns, "/usr/bin/python3", "-c", DNS_SERVER, self.dns_log,
                                            json.dumps(dns_table)]))
        self._wait_for_servers()

    def _wait_for_servers(self):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.addr(1), 8080), timeout=1) as s:
                    s.recv(100)
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the lab's TCP server did not come up")

    def add_metadata_address(self):
        """169.254.169.254 in the lab, and the host's route for it through the veth."""
        sh("ip", "-n", self.ns, "addr", "add", "169.254.169.254/32", "dev", "lo")
        sh("ip", "route", "add", "169.254.169.254/32", "via", self.lab_addr, "dev", self.host_if)
        self.metadata = True

    def connections(self):
        with open(self.tcp_log) as f:
            return [tuple(l.split()) for l in f if l.strip()]

    def names_asked(self):
        with open(self.dns_log) as f:
            return [l.split()[0] for l in f if l.strip()]

    def stop(self):
        for p in self.procs:
            p.kill()
            p.wait()
        self.procs = []
        if self.metadata:
            sh("ip", "route", "del", "169.254.169.254/32", check=False)
            self.metadata = False
        # the host's end and its routes go with the namespace's end
        sh("ip", "link", "del", self.host_if, check=False)
        sh("ip", "netns", "del", self.ns, check=False)


def host_state(settle=10):
    """What egress sandboxes may leave on the host: warren's nftables table,
    its links (wrnK), addresses of the default pool. A link goes with its
    sandbox's namespace, which the kernel tears down a moment after the
    sandbox ended: waits up to `settle` seconds for links and addresses
    to go before reporting them."""
    deadline = time.monotonic() + settle
    while True:
        state = _host_state()
        if not (state["links"] or state["pool_addresses"]) or time.monotonic() > deadline:
            return state
        time.sleep(0.05)


def _host_state():
    tables = sh("nft", "list", "tables", check=False).stdout.split("\n")
    links = [l.split()[0].split("@")[0] for l in sh("ip", "-br", "link").stdout.splitlines()]
    addrs = sh("ip", "-4", "-o", "addr").stdout
    return {
        "table": [t for t in tables if t.strip() == "table inet warren"],
        "links": [l for l in links if l.startswith("wrn")],
        "pool_addresses": [l for l in addrs.splitlines() if " 10.231." in l],
    }


def forwarding(ifname):
    with open(f"/proc/sys/net/ipv4/conf/{ifname}/forwarding") as f:
        return f.read().strip()
