"""Sessions with network egress outlive a restart of warrend (warrend(8)
RESTARTS): the kept init holds the sandbox's egress slot and resolver
socket, so its link and rules stay on the host while no daemon runs; the
next daemon proves them, serves its DNS again with the allowlist the
session had (a PATCHed one too), and what it cannot take back is removed
to the last rule.

Every destination is an address of the test's own namespace (netlab.py):
no packet of these tests can leave the machine."""

import errno
import fcntl
import json
import os
import signal
import subprocess

from daemon_fixture import pid_alive, start_daemon, wait_for, warrend  # noqa: F401 (fixtures)
from hostcheck import host_clean
from netlab import host_state
from test_daemon_egress import (HOLD, lab, probe, resolve_and_connect, slot_of, slot_state,  # noqa: F401 (lab)
                                wait_slot_gone, write_policies)
from test_daemon_processes import Stream, finished, output_of, start
from test_faults import stop_cleanly
from test_restart import ids_locked, record_path

# Waits for SIGUSR1 (sent from the host while no daemon runs), then
# resolves a name and connects to it: its lookup is made meanwhile.
ASK_LATER = r"""
import signal, socket, sys
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
print("waiting", flush=True)
signal.sigwait([signal.SIGUSR1])
addr = socket.getaddrinfo(sys.argv[1], 8080, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
print(socket.create_connection((addr, 8080), timeout=5).recv(100).decode().strip(), flush=True)
"""


def patch_allow(d, sid, allow):
    r = d.http.patch(f"{d.url}/v1/sessions/{sid}", json={"network": {"allow": allow}}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()["network"]


def process_output(d, sid, pid):
    finished(d, sid, pid)
    s = Stream(d, sid, pid)
    try:
        return output_of(s.events())
    finally:
        s.close()


def command_pid(init_pid, word):
    """The host pid of the sandbox's command whose arguments hold `word`."""
    with open(f"/proc/{init_pid}/task/{init_pid}/children") as f:
        for pid in f.read().split():
            with open(f"/proc/{pid}/cmdline", "rb") as c:
                if word.encode() in c.read().split(b"\0"):
                    return int(pid)
    raise AssertionError(f"no command of {word} in the sandbox of {init_pid}")


def slot_locked(slot):
    """Whether someone holds egress slot K (byte K of the slots' lock file)."""
    with open("/run/warren/net-slots.lock", "rb+") as f:
        try:
            fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, slot)
        except OSError as e:
            assert e.errno in (errno.EACCES, errno.EAGAIN), e
            return True
        fcntl.lockf(f, fcntl.LOCK_UN, 1, slot)
        return False


def resolver_queue(init_pid):
    """Bytes waiting on the sandbox's resolver socket (127.0.0.53:53)."""
    out = subprocess.run(["nsenter", "-t", str(init_pid), "-n", "ss", "-uanH", "sport", "= :53"],
                         capture_output=True, text=True, check=True).stdout
    return sum(int(line.split()[1]) for line in out.splitlines() if "127.0.0.53:53" in line)


def test_kill_9_keeps_an_egress_session_with_its_patched_allowlist(start_daemon, lab, tmp_path, host_before):
    policies = write_policies(str(tmp_path / "policies"), lab)
    old = start_daemon("--policy-dir", policies)
    s = old.create(policy="egress-test", network={"allow": [f"{lab.addr(9)}:8080", "www.allowed.test"]})
    sid, slot = s["id"], slot_of(s["network"]["address"])
    # a connection open across the restart, and a lookup made while no daemon runs
    assert start(old, sid, cmd=["python3", "-c", HOLD, lab.addr(9)])["pid"] == 1
    assert wait_for(lambda: any(c[0] == lab.addr(9) for c in lab.connections()), 30), "the held connection"
    assert start(old, sid, cmd=["python3", "-c", ASK_LATER, "other.allowed.test"])["pid"] == 2
    waiting = Stream(old, sid, 2)
    waiting.until("waiting")
    waiting.close()
    # what a name resolved to is let through (until the restart: then it is forgotten)
    got = resolve_and_connect(old, sid, ["www.allowed.test"])
    assert got["www.allowed.test"][:2] == [lab.addr(1), "connected"], got
    # the list as the session has it now, not as it was created
    patched = [f"{lab.addr(9)}:8080", "www.allowed.test", "other.allowed.test"]
    assert patch_allow(old, sid, patched)["allow"] == patched
    init = old.init_pid(sid)
    (record,) = old.state_files()

    old.kill()

    # its sandbox, link and rules stay while no daemon runs, its slot and host ids held
    # (no warren run or other daemon takes or sweeps them); a lookup waits on its socket
    assert pid_alive(init) and slot_state(slot) == {"rules": True, "link": True}, slot_state(slot)
    assert record["backend_state"]["egress"]["slot"] == slot, record["backend_state"]
    assert slot_locked(slot) and ids_locked(record["backend_state"]["host_ids"])
    os.kill(command_pid(init, "other.allowed.test"), signal.SIGUSR1)
    assert wait_for(lambda: resolver_queue(init) > 0, 30), "the sandbox's lookup did not wait on its socket"
    new = start_daemon("--policy-dir", policies, workdir=old.workdir)
    assert "took back 1 session(s) a previous run left; destroyed 0" in new.log(), new.log()
    # (the sweep of what the old daemon's pools left spared it)
    assert slot_state(slot) == {"rules": True, "link": True}, slot_state(slot)
    net = new.get(f"/v1/sessions/{sid}").json()["network"]
    assert net["allow"] == patched and net["address"] == s["network"]["address"], net
    # the lookup made meanwhile was answered by the new daemon, by the patched list
    assert process_output(new, sid, 2).endswith(f"OK {lab.addr(2)} {lab.host_addr}\n")
    # the connection open across the restart still passes
    assert new.http.put(f"{new.url}/v1/sessions/{sid}/files/go", data=b"", timeout=60).status_code in (200, 201)
    assert process_output(new, sid, 1).endswith("BYE\n")
    # by address and by name as the patched list says; what the old daemon let
    # through for a name is not (a PATCH could not take it back), until asked again
    got = probe(new, sid, [f"{lab.addr(9)}:8080", f"{lab.addr(3)}:8080", f"{lab.addr(1)}:8080"])
    assert [got[f"{lab.addr(n)}:8080"][0] for n in (9, 3, 1)] == ["connected", "refused", "refused"], got
    got = resolve_and_connect(new, sid, ["other.allowed.test", "www.allowed.test", "evil.test"])
    assert got["other.allowed.test"][:2] == [lab.addr(2), "connected"], got
    assert got["www.allowed.test"][:2] == [lab.addr(1), "connected"], got
    assert got["evil.test"] == ["nxdomain"], got
    # and a PATCH of the taken-back session takes effect, names and addresses
    assert patch_allow(new, sid, ["other.allowed.test"])["allow"] == ["other.allowed.test"]
    got = resolve_and_connect(new, sid, ["www.allowed.test", "other.allowed.test"])
    assert got["www.allowed.test"] == ["nxdomain"], got
    assert got["other.allowed.test"][:2] == [lab.addr(2), "connected"], got
    got = probe(new, sid, [f"{lab.addr(9)}:8080", f"{lab.addr(1)}:8080"])
    assert [got[f"{lab.addr(n)}:8080"][0] for n in (9, 1)] == ["refused", "refused"], got
    new.remove(sid)
    assert wait_slot_gone(slot), slot_state(slot)
    stop_cleanly(new)
    host_clean(host_before, new, old)


def test_sigusr2_then_kill_9_keep_an_egress_session(start_daemon, lab, tmp_path, host_before):
    policies = write_policies(str(tmp_path / "policies"), lab)
    old = start_daemon("--policy-dir", policies)
    s = old.create(policy="egress-test", network={"allow": ["www.allowed.test"]})
    sid, slot = s["id"], slot_of(s["network"]["address"])
    rc, _ = old.stop(signal.SIGUSR2)
    assert rc == 0, old.log()
    assert slot_state(slot) == {"rules": True, "link": True}, slot_state(slot)
    new = start_daemon("--policy-dir", policies, workdir=old.workdir)
    assert "took back 1 session(s)" in new.log(), new.log()
    expected = {"www.allowed.test": [lab.addr(1), "connected", f"OK {lab.addr(1)} {lab.host_addr}"],
                "other.allowed.test": ["nxdomain"]}
    got = resolve_and_connect(new, sid, ["www.allowed.test", "other.allowed.test"])
    assert got == expected, got
    # a session taken back is kept again: a second restart finds it too
    new.kill()
    third = start_daemon("--policy-dir", policies, workdir=old.workdir)
    assert "took back 1 session(s)" in third.log(), third.log()
    assert resolve_and_connect(third, sid, ["www.allowed.test", "other.allowed.test"]) == expected
    # SIGTERM ends it with everything of its network
    rc, _ = third.stop()
    assert rc == 0, third.log()
    assert wait_slot_gone(slot), slot_state(slot)
    assert host_state() == {"table": [], "links": [], "pool_addresses": []}, host_state()
    host_clean(host_before, third, new, old)


def test_egress_sessions_not_taken_back_leave_no_link_or_rule(start_daemon, lab, tmp_path, host_before):
    """One whose init was killed while no daemon ran; one whose record names
    another egress slot than its init holds: each destroyed with a log line,
    and nothing of either stays on the host."""
    policies = write_policies(str(tmp_path / "policies"), lab)
    old = start_daemon("--policy-dir", policies)
    dead, forged = (old.create(policy="egress-wide") for _ in range(2))
    slots = [slot_of(s["network"]["address"]) for s in (dead, forged)]
    init = old.init_pid(dead["id"])
    old.kill()
    os.kill(init, signal.SIGKILL)
    assert wait_for(lambda: not pid_alive(init), 10)
    with open(record_path(old, forged["id"])) as f:
        record = json.load(f)
    record["backend_state"]["egress"]["slot"] += 1000
    record["backend_state"]["egress"]["link"] = f"wrn{slots[1] + 1000}"
    with open(record_path(old, forged["id"]), "w") as f:
        json.dump(record, f)

    new = start_daemon("--policy-dir", policies, workdir=old.workdir)
    log = new.log()
    assert f"session {dead['id']}: not taken back: its init (pid {init}) is gone" in log, log
    assert f"session {forged['id']}: not taken back: its egress link wrn{slots[1] + 1000} is gone" in log, log
    assert "took back 0 session(s) a previous run left; destroyed 2" in log, log
    for slot in slots:
        assert wait_slot_gone(slot), (slot, slot_state(slot))
    assert new.get("/v1/sessions").json()["sessions"] == []
    stop_cleanly(new)
    assert host_state() == {"table": [], "links": [], "pool_addresses": []}, host_state()
    host_clean(host_before, new, old)


def test_kill_9_keeps_an_oci_egress_session(start_daemon, lab, tmp_path, host_before):
    """The oci backend: the container's holder (warren-ids) keeps its slot and
    resolver socket as a native init does."""
    policies = write_policies(str(tmp_path / "policies"), lab)
    old = start_daemon("--policy-dir", policies, backend="oci")
    s = old.create(policy="egress-test", network={"allow": [f"{lab.addr(1)}:8080", "www.allowed.test"]})
    sid, slot = s["id"], slot_of(s["network"]["address"])
    assert s["backend"] == "oci", s
    old.kill()
    assert slot_state(slot) == {"rules": True, "link": True} and slot_locked(slot), slot_state(slot)
    new = start_daemon("--policy-dir", policies, workdir=old.workdir, backend="oci")
    assert "took back 1 session(s)" in new.log(), new.log()
    got = resolve_and_connect(new, sid, ["www.allowed.test", "other.allowed.test"])
    assert got == {"www.allowed.test": [lab.addr(1), "connected", f"OK {lab.addr(1)} {lab.host_addr}"],
                   "other.allowed.test": ["nxdomain"]}, got
    assert patch_allow(new, sid, [f"{lab.addr(2)}:8080"])["allow"] == [f"{lab.addr(2)}:8080"]
    got = probe(new, sid, [f"{lab.addr(1)}:8080", f"{lab.addr(2)}:8080"])
    assert [got[f"{lab.addr(1)}:8080"][0], got[f"{lab.addr(2)}:8080"][0]] == ["refused", "connected"], got
    new.remove(sid)
    assert wait_slot_gone(slot), slot_state(slot)
    stop_cleanly(new)
    # (the old daemon's pool containers went at the new one's start, with their links and rules)
    assert host_state() == {"table": [], "links": [], "pool_addresses": []}, host_state()
    host_clean(host_before, new, old)
