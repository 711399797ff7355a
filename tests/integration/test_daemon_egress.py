"""Sessions with network egress: `POST /v1/sessions {"network": {"mode":
"egress", "allow": [...]}}`, its live change (PATCH), /v1/run, `warren
create --net egress --allow`, the DNS forwarder on warrend's loop, /metrics
and the access log, and nothing left on the host after sessions end, after
the daemon drains, and after `kill -9` of warrend and its restart.

Every destination is an address of the test's own namespace (netlab.py):
no packet of these tests can leave the machine, even if warren is wrong.
"""

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

import pytest

from daemon_fixture import Daemon, assert_error, start_daemon, stop_and_check, wait_for, warrend  # noqa: F401
from netlab import PROBE, forwarding, host_ipv4_addresses, host_listener, host_state, start_lab
from warrentest import REPO

POOL_BASE = (10 << 24) | (231 << 16)  # the default pool, 10.231.0.0/16: slot K holds .2K and .2K+1

# Resolves each name and connects to what it resolved to on 8080: one JSON object per name.
RESOLVE_AND_CONNECT = r"""
import json, socket, sys
out = {}
for name in json.loads(sys.argv[1]):
    try:
        addr = socket.getaddrinfo(name, 8080, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
    except socket.gaierror as e:
        out[name] = ["nxdomain" if e.errno == socket.EAI_NONAME else f"gaierror:{e.errno}"]
        continue
    try:
        s = socket.create_connection((addr, 8080), timeout=5)
        out[name] = [addr, "connected", s.recv(200).decode().strip()]
    except OSError as e:
        out[name] = [addr, "refused", f"{e.__class__.__name__}:{e.errno}"]
print(json.dumps(out))
"""


def slot_of(address):
    a, b, c, d = (int(x) for x in address.split("."))
    return (((a << 24) | (b << 16) | (c << 8) | d) - POOL_BASE) // 2


def slot_state(slot):
    """What the host holds of egress slot K: its chain in warren's table, its link."""
    table = subprocess.run(["nft", "list", "table", "inet", "warren"], capture_output=True, text=True).stdout
    links = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout
    return {"rules": f"chain sb{slot}-out" in table,
            "link": any(l.split()[0].split("@")[0] == f"wrn{slot}" for l in links.splitlines() if l.strip())}


def wait_slot_gone(slot, timeout=30):
    """Rules go at once; the link goes with the sandbox's namespace, a moment later."""
    return wait_for(lambda: slot_state(slot) == {"rules": False, "link": False}, timeout)


@pytest.fixture(scope="module")
def lab():
    lab = start_lab({"www.allowed.test": 1, "other.allowed.test": 2, "evil.test": 3})
    yield lab
    lab.stop()


def write_policies(directory, lab):
    """egress-test: two lab addresses and *.allowed.test; egress-wide: everything
    (the rules still keep the host, other sandboxes and metadata away)."""
    os.makedirs(directory, exist_ok=True)
    common = {"interface": lab.host_if, "resolvers": [lab.lab_addr]}
    policies = {
        "egress-test": [f"{lab.addr(1)}:8080", f"{lab.addr(2)}:8080", f"{lab.addr(9)}:8080", "*.allowed.test"],
        "egress-wide": ["0.0.0.0/0"],
    }
    for name, allow in policies.items():
        with open(os.path.join(directory, f"{name}.json"), "w") as f:
            json.dump({"version": 1, "name": name, "network": {"mode": "egress", "allow": allow, **common}}, f)
    return directory


@pytest.fixture(scope="module")
def d(warrend, lab, tmp_path_factory, nothing_left_behind):  # noqa: F811
    """One daemon for the module, with the egress policies; once it has
    stopped, nothing of warren's egress may remain on the host."""
    work = str(tmp_path_factory.mktemp("warrend-egress"))
    policies = write_policies(os.path.join(work, "policies"), lab)
    daemon = Daemon(warrend, work, ["--policy-dir", policies]).start()
    yield daemon
    stop_and_check(daemon)
    state = host_state()
    assert state == {"table": [], "links": [], "pool_addresses": []}, f"left behind after the drain: {state}"
    assert forwarding(lab.host_if) == "0", "the egress interface's forwarding was left on"


def exec_json(d, sid, code, *args, timeout=60):
    r = d.exec(sid, cmd=["python3", "-c", code, *args], timeout=f"{timeout}s")
    assert r["exit_code"] == 0, (r["exit_code"], r["stdout"], r["stderr"])
    return json.loads(r["stdout"])


def probe(d, sid, targets):
    return {t: (how, what) for t, how, what in exec_json(d, sid, PROBE, json.dumps(targets))}


def resolve_and_connect(d, sid, names):
    return exec_json(d, sid, RESOLVE_AND_CONNECT, json.dumps(names))


def pool_ready(d, policy, network="egress"):
    for p in d.get("/v1/health").json()["pools"]:
        if p["policy"] == policy and p.get("network") == network:
            return p["ready"] >= p["target"] > 0
    return False


def test_session_reaches_what_its_policy_allows_and_nothing_else(d, lab):
    s = d.create(policy="egress-test")
    try:
        assert s["network"]["mode"] == "egress", s
        assert s["network"]["allow"] == [f"{lab.addr(1)}:8080", f"{lab.addr(2)}:8080", f"{lab.addr(9)}:8080",
                                         "*.allowed.test"], s
        assert s["network"]["address"].startswith("10.231."), s
        assert d.get(f"/v1/sessions/{s['id']}").json()["network"] == s["network"]
        seen = len(lab.connections())
        got = probe(d, s["id"], [f"{lab.addr(1)}:8080", f"{lab.addr(3)}:8080", f"{lab.addr(1)}:8081"])
        # the lab has no route back to the pool: the answer came because the host's address was the source
        assert got[f"{lab.addr(1)}:8080"] == ("connected", f"OK {lab.addr(1)} {lab.host_addr}"), got
        assert got[f"{lab.addr(3)}:8080"][0] == "refused", got
        assert got[f"{lab.addr(1)}:8081"][0] == "refused", got
        assert len(lab.connections()) == seen + 1, lab.connections()[seen:]
        asked = len(lab.names_asked())
        got = resolve_and_connect(d, s["id"], ["www.allowed.test", "evil.test"])
        assert got["www.allowed.test"][:2] == [lab.addr(1), "connected"], got
        assert got["evil.test"] == ["nxdomain"], got
        assert "evil.test" not in lab.names_asked()[asked:], "a refused name was asked upstream"
    finally:
        d.remove(s["id"])


def test_a_pooled_sandbox_gets_the_narrower_allowlist_of_its_session(d, lab):
    """Egress sandboxes are pooled with the policy's list; a session asking
    for less has its own applied when it leases one."""
    d.remove(d.create(policy="egress-test")["id"])  # the pool warms once used
    assert wait_for(lambda: pool_ready(d, "egress-test"), 30), d.get("/v1/health").json()
    s = d.create(policy="egress-test", network={"mode": "egress", "allow": [f"{lab.addr(2)}:8080"]})
    try:
        assert s["pooled"] is True, s
        assert s["network"]["allow"] == [f"{lab.addr(2)}:8080"], s
        got = probe(d, s["id"], [f"{lab.addr(1)}:8080", f"{lab.addr(2)}:8080"])
        assert got[f"{lab.addr(1)}:8080"][0] == "refused", got
        assert got[f"{lab.addr(2)}:8080"][0] == "connected", got
        assert resolve_and_connect(d, s["id"], ["www.allowed.test"]) == {"www.allowed.test": ["nxdomain"]}
    finally:
        d.remove(s["id"])


def test_requests_that_would_widen_or_take_the_host_network_are_refused(d, lab):
    assert_error(d.post("/v1/sessions", {"policy": "egress-test", "network": {"allow": [f"{lab.addr(3)}:8080"]}}),
                 400, "bad_request", f"network.allow: {lab.addr(3)}:8080 is not within the allowlist of policy "
                 "egress-test")
    assert_error(d.post("/v1/sessions", {"policy": "egress-test", "network": {"allow": ["allowed.test"]}}),
                 400, "bad_request", "not within the allowlist")
    assert_error(d.post("/v1/sessions", {"policy": "egress-test", "network": {"allow": ["no such thing"]}}),
                 400, "bad_request", "network.allow: no such thing")
    assert_error(d.post("/v1/sessions", {"network": {"mode": "egress"}}), 400, "bad_request",
                 "egress is not allowed by policy default")
    assert_error(d.post("/v1/sessions", {"policy": "egress-test", "network": {"mode": "host"}}), 400, "bad_request",
                 "a session cannot have the host's network")
    assert_error(d.post("/v1/sessions", {"policy": "egress-test", "network": {"mode": "none", "allow": []}}), 400,
                 "bad_request", "network.allow is for mode \"egress\"")
    assert_error(d.post("/v1/sessions", {"network": {"mode": "egress", "ports": []}}), 400, "bad_request",
                 "unknown field \"network.ports\"")
    assert_error(d.post("/v1/sessions", {"network": "egress"}), 400, "bad_request", "network: expected an object")
    assert d.get("/v1/health").ok


def test_mode_none_narrows_an_egress_policy(d):
    s = d.create(policy="egress-test", network={"mode": "none"})
    try:
        assert s["network"] == {"mode": "none"}, s
        r = d.exec(s["id"], cmd=["python3", "-c", "import socket; print(' '.join(n for _, n in socket.if_nameindex()))"])
        assert r["stdout"].split() == ["lo"], r
    finally:
        d.remove(s["id"])


HOLD = r"""
import os, socket, sys, time
s = socket.create_connection((sys.argv[1], 8080), timeout=5)
print(s.recv(100).decode().strip(), flush=True)
while not os.path.exists("/workspace/go"):
    time.sleep(0.05)
s.sendall(b"x")
print(s.recv(100).decode().strip(), flush=True)
"""


def test_patch_changes_the_allowlist_for_new_connections(d, lab):
    s = d.create(policy="egress-test", network={"allow": [f"{lab.addr(1)}:8080", f"{lab.addr(9)}:8080",
                                                          "www.allowed.test"]})
    sid = s["id"]
    held = {}
    try:
        got = resolve_and_connect(d, sid, ["www.allowed.test"])
        assert got["www.allowed.test"][1] == "connected", got
        # a connection open across the change goes on
        t = threading.Thread(target=lambda: held.update(d.exec(sid, cmd=["python3", "-c", HOLD, lab.addr(9)],
                                                               timeout="60s")))
        t.start()
        assert wait_for(lambda: any(c[0] == lab.addr(9) for c in lab.connections()), 30), "the held connection"
        r = d.http.patch(f"{d.url}/v1/sessions/{sid}", json={"network": {"allow": [f"{lab.addr(2)}:8080"]}},
                         timeout=60)
        assert r.status_code == 200, r.text
        assert r.json()["network"]["allow"] == [f"{lab.addr(2)}:8080"], r.json()
        assert d.get(f"/v1/sessions/{sid}").json()["network"]["allow"] == [f"{lab.addr(2)}:8080"]
        assert d.http.put(f"{d.url}/v1/sessions/{sid}/files/go", data=b"", timeout=60).status_code in (200, 201)
        t.join(60)
        assert held.get("exit_code") == 0 and held["stdout"].split("\n")[:2] == [
            f"OK {lab.addr(9)} {lab.host_addr}", "BYE"], held
        # new connections follow the new list, and so does the resolver
        got = probe(d, sid, [f"{lab.addr(1)}:8080", f"{lab.addr(2)}:8080", f"{lab.addr(9)}:8080"])
        assert got[f"{lab.addr(1)}:8080"][0] == "refused", got
        assert got[f"{lab.addr(9)}:8080"][0] == "refused", got
        assert got[f"{lab.addr(2)}:8080"][0] == "connected", got
        assert resolve_and_connect(d, sid, ["www.allowed.test"]) == {"www.allowed.test": ["nxdomain"]}
        # and back, within the policy's list: the name resolves and connects again
        r = d.http.patch(f"{d.url}/v1/sessions/{sid}", json={"network": {"allow": ["*.allowed.test"]}}, timeout=60)
        assert r.status_code == 200, r.text
        got = resolve_and_connect(d, sid, ["other.allowed.test"])
        assert got["other.allowed.test"][:2] == [lab.addr(2), "connected"], got
        # never beyond the policy's, nor a mode
        patch = lambda body: d.http.patch(f"{d.url}/v1/sessions/{sid}", json=body, timeout=60)  # noqa: E731
        assert_error(patch({"network": {"allow": [f"{lab.addr(3)}:8080"]}}), 400, "bad_request",
                     "is not within the allowlist of policy egress-test")
        assert_error(patch({"network": {"mode": "none"}}), 400, "bad_request", "network.mode cannot change")
        assert_error(patch({"limits": {}}), 400, "bad_request", "unknown field \"limits\"")
        assert d.get(f"/v1/sessions/{sid}").json()["network"]["allow"] == ["*.allowed.test"]
    finally:
        d.http.put(f"{d.url}/v1/sessions/{sid}/files/go", data=b"", timeout=60)
        d.remove(sid)


def test_patch_of_a_session_without_egress_is_refused(d):
    s = d.create()
    try:
        assert_error(d.http.patch(f"{d.url}/v1/sessions/{s['id']}", json={"network": {"allow": ["pypi.org"]}},
                                  timeout=60), 409, "conflict", "has no network egress")
    finally:
        d.remove(s["id"])
    assert_error(d.http.patch(f"{d.url}/v1/sessions/nosuch", json={"network": {"allow": []}}, timeout=60), 404,
                 "not_found")


SERVE = r"""
import socket
srv = socket.socket(); srv.bind(("0.0.0.0", 9000)); srv.listen(4); srv.settimeout(15)
try:
    c, peer = srv.accept(); print("ACCEPTED", peer)
except OSError:
    print("NOTHING")
"""


def test_two_egress_sessions_cannot_reach_each_other(d):
    a = d.create(policy="egress-wide")
    b = d.create(policy="egress-wide")
    out = {}
    try:
        t = threading.Thread(target=lambda: out.update(d.exec(a["id"], cmd=["python3", "-c", SERVE], timeout="60s")))
        t.start()
        addr_a = a["network"]["address"]
        gateway_a = addr_a.rsplit(".", 1)[0] + "." + str(int(addr_a.rsplit(".", 1)[1]) - 1)
        time.sleep(0.5)  # the server binds first; a refusal either way proves nothing passed
        got = probe(d, b["id"], [f"{addr_a}:9000", f"{gateway_a}:9000"])
        assert all(how == "refused" for how, _ in got.values()), got
        t.join(60)
        assert out.get("stdout", "").strip() == "NOTHING", out
    finally:
        d.remove(a["id"])
        d.remove(b["id"])


def test_warrend_listeners_host_addresses_and_metadata_are_unreachable(d, lab):
    lab.add_metadata_address()
    s = d.create(policy="egress-wide")
    try:
        with host_listener() as port:
            # the control: from the host the metadata address leads to the lab's server
            with socket.create_connection(("169.254.169.254", 8080), timeout=5) as c:
                assert c.recv(100).startswith(b"OK 169.254.169.254")
            seen = len(lab.connections())
            targets = [f"{a}:{p}" for a in host_ipv4_addresses() for p in (d.port, port)]
            targets += [f"{lab.host_addr}:{d.port}", "169.254.169.254:8080", "169.254.169.254:80"]
            got = probe(d, s["id"], targets)
        for t, (how, what) in got.items():
            # 127.0.0.1 is the sandbox's own loopback: refused there, never the host's
            assert how == "refused", (t, what)
        assert len(lab.connections()) == seen, "the metadata address answered a sandbox"
        r = d.exec(s["id"], cmd=["sh", "-c", f"test -e {d.sock} && echo present || echo absent"])
        assert r["stdout"].strip() == "absent", r
    finally:
        d.remove(s["id"])
        subprocess.run(["ip", "route", "del", "169.254.169.254/32"], capture_output=True)
        lab.metadata = False


def metric(text, name, session):
    m = re.search(rf'^{name}{{session="{session}"[^}}]*}} (\d+)$', text, re.M)
    return int(m.group(1)) if m else None


def test_metrics_and_access_log_show_what_was_denied(d, lab):
    r = d.post("/v1/sessions", {"policy": "egress-test"}, headers={"X-Request-Id": "egress-metrics-1"})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    try:
        before = d.get("/metrics").text
        total_before = int(re.search(r"^warren_dns_denied_names_total (\d+)$", before, re.M).group(1))
        got = resolve_and_connect(d, sid, ["evil.test", "www.allowed.test"])
        assert got["evil.test"] == ["nxdomain"] and got["www.allowed.test"][1] == "connected", got
        got = probe(d, sid, [f"{lab.addr(3)}:8080", f"{lab.addr(3)}:8081"])
        assert all(how == "refused" for how, _ in got.values()), got
        text = d.get("/metrics").text
        assert metric(text, "warren_egress_dns_denied_total", sid) == 1, text
        assert metric(text, "warren_egress_dns_queries_total", sid) >= 2, text
        assert metric(text, "warren_egress_connections_total", sid) >= 1, text
        assert metric(text, "warren_egress_denied_packets_total", sid) >= 2, text
        assert metric(text, "warren_egress_denied_bytes_total", sid) > 0, text
        assert metric(text, "warren_egress_bytes_total", sid) > 0, text
        assert f'warren_egress_bytes_total{{session="{sid}",direction="in"}}' in text, text
        assert int(re.search(r"^warren_dns_denied_names_total (\d+)$", text, re.M).group(1)) == total_before + 1
        # the access log: the name, the session and the request that created it
        line = wait_for(lambda: [l for l in d.log().splitlines() if "type=dns" in l and f"session_id={sid}" in l], 10)
        assert len(line) == 1 and "verdict=denied name=evil.test request_id=egress-metrics-1" in line[0], line
    finally:
        d.remove(sid)
    assert metric(d.get("/metrics").text, "warren_egress_dns_denied_total", sid) is None, "an ended session's series"


def test_a_sandbox_asking_in_a_loop_does_not_fill_the_log(d):
    s = d.create(policy="egress-test")
    try:
        names = [f"n{i}.evil.test" for i in range(25)]
        got = resolve_and_connect(d, s["id"], names)
        assert all(v == ["nxdomain"] for v in got.values()), got
        assert metric(d.get("/metrics").text, "warren_egress_dns_denied_total", s["id"]) == 25
        lines = [l for l in d.log().splitlines() if "type=dns" in l and f"session_id={s['id']}" in l]
        assert len(lines) == 20, lines  # at most 20 per session in 10 s; the rest counted, said later
    finally:
        d.remove(s["id"])


def test_run_takes_the_network_field(d, lab):
    code = PROBE.replace("json.loads(sys.argv[1])", json.dumps([f"{lab.addr(1)}:8080", f"{lab.addr(2)}:8080"]))
    r = d.post("/v1/run", {"policy": "egress-test", "network": {"allow": [f"{lab.addr(2)}:8080"]},
                           "cmd": ["python3", "-c", code]})
    assert r.status_code == 200, r.text
    got = {t: how for t, how, _ in json.loads(r.json()["stdout"])}
    assert got == {f"{lab.addr(1)}:8080": "refused", f"{lab.addr(2)}:8080": "connected"}, r.json()
    assert_error(d.post("/v1/run", {"policy": "egress-test", "network": {"allow": ["evil.test"]}, "cmd": ["true"]}),
                 400, "bad_request", "not within the allowlist")


def test_cli_create_with_egress(d, lab):
    warren = os.environ.get("WARREN") or os.path.join(REPO, "_build", "warren")
    env = {**{k: v for k, v in os.environ.items() if k not in ("WARREN_URL", "WARREN_TOKEN")},
           "WARREN_URL": "unix:" + d.sock}
    p = subprocess.run([warren, "create", "--policy", "egress-test", "--net", "egress", "--allow",
                        f"{lab.addr(1)}:8080", "--allow", "*.allowed.test"], capture_output=True, text=True,
                       env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    sid = p.stdout.strip()
    try:
        p = subprocess.run([warren, "exec", sid, "--", "python3", "-c", PROBE,
                            json.dumps([f"{lab.addr(1)}:8080", f"{lab.addr(2)}:8080"])],
                           capture_output=True, text=True, env=env, timeout=60)
        assert p.returncode == 0, p.stderr
        got = {t: how for t, how, _ in json.loads(p.stdout)}
        assert got == {f"{lab.addr(1)}:8080": "connected", f"{lab.addr(2)}:8080": "refused"}, got
    finally:
        subprocess.run([warren, "rm", sid], env=env, capture_output=True, timeout=60)
    p = subprocess.run([warren, "create", "--policy", "egress-test", "--allow", f"{lab.addr(3)}:8080"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode != 0 and "is not within the allowlist of policy egress-test" in p.stderr, p.stderr
    p = subprocess.run([warren, "create", "--net", "host"], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode != 0 and "--net: expected 'none' or 'egress'" in p.stderr, p.stderr


def test_nothing_left_when_sessions_end(d):
    s = d.create(policy="egress-wide")
    slot = slot_of(s["network"]["address"])
    assert slot_state(slot) == {"rules": True, "link": True}
    d.remove(s["id"])
    assert wait_slot_gone(slot), slot_state(slot)


def test_drain_and_kill_9_leave_nothing(start_daemon, lab, tmp_path):  # noqa: F811
    policies = write_policies(str(tmp_path / "policies"), lab)
    # a drain (SIGTERM) removes its sandboxes' links and rules
    first = start_daemon("--policy-dir", policies)
    slots = [slot_of(first.create(policy="egress-wide")["network"]["address"]) for _ in range(2)]
    rc, _ = first.stop()
    assert rc == 0, first.log()
    for slot in slots:
        assert wait_slot_gone(slot), (slot, slot_state(slot))
    # kill -9, and the sandbox killed too (a session alone outlives warrend:
    # tests/faults/test_restart_egress.py): its link goes with its namespace; the
    # rules stay until the next warrend starts
    d2 = start_daemon("--policy-dir", policies)
    s = d2.create(policy="egress-wide")
    slot = slot_of(s["network"]["address"])
    init = d2.init_pid(s["id"])
    d2.kill()
    with contextlib.suppress(ProcessLookupError):
        os.kill(init, signal.SIGKILL)
    assert wait_for(lambda: not slot_state(slot)["link"], 30), "the link did not go with the sandbox"
    assert slot_state(slot)["rules"], "expected the killed daemon's rules to be left for the next start"
    d3 = start_daemon("--policy-dir", policies, workdir=d2.workdir)
    assert not slot_state(slot)["rules"], d3.log()
    assert "egress: removed the links and rules of" in d3.log(), d3.log()
    d3.remove(d3.create(policy="egress-wide")["id"])  # and it serves egress sessions


def test_oci_session_with_egress(start_daemon, lab, tmp_path):  # noqa: F811
    """The oci backend: its container joins the network namespace warren
    prepared (config.json's linux.namespaces path), with the same link,
    rules and resolver as a native sandbox."""
    policies = write_policies(str(tmp_path / "policies"), lab)
    od = start_daemon("--policy-dir", policies, backend="oci")
    s = od.create(policy="egress-test", network={"allow": [f"{lab.addr(1)}:8080", "www.allowed.test"]})
    slot = slot_of(s["network"]["address"])
    try:
        assert s["backend"] == "oci", s
        got = probe(od, s["id"], [f"{lab.addr(1)}:8080", f"{lab.addr(2)}:8080", f"{lab.host_addr}:{od.port}"])
        assert got[f"{lab.addr(1)}:8080"] == ("connected", f"OK {lab.addr(1)} {lab.host_addr}"), got
        assert got[f"{lab.addr(2)}:8080"][0] == "refused", got
        assert got[f"{lab.host_addr}:{od.port}"][0] == "refused", got
        got = resolve_and_connect(od, s["id"], ["www.allowed.test", "other.allowed.test"])
        assert got == {"www.allowed.test": [lab.addr(1), "connected", f"OK {lab.addr(1)} {lab.host_addr}"],
                       "other.allowed.test": ["nxdomain"]}, got
        r = od.http.patch(f"{od.url}/v1/sessions/{s['id']}", json={"network": {"allow": [f"{lab.addr(2)}:8080"]}},
                          timeout=60)
        assert r.status_code == 200, r.text
        got = probe(od, s["id"], [f"{lab.addr(1)}:8080", f"{lab.addr(2)}:8080"])
        assert [got[f"{lab.addr(1)}:8080"][0], got[f"{lab.addr(2)}:8080"][0]] == ["refused", "connected"], got
    finally:
        od.remove(s["id"])
    assert wait_slot_gone(slot), slot_state(slot)


def test_docker_refuses_egress(start_daemon, lab, tmp_path):  # noqa: F811
    policies = write_policies(str(tmp_path / "policies"), lab)
    dd = start_daemon("--policy-dir", policies, backend="docker")
    assert_error(dd.post("/v1/sessions", {"policy": "egress-test"}), 400, "bad_request",
                 "the docker backend cannot give a session network egress (policy egress-test)")
    s = dd.create(policy="egress-test", network={"mode": "none"})  # narrowed to none it serves
    dd.remove(s["id"])
