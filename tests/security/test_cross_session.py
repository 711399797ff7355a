"""Cross-session: sessions of different tokens cannot see or signal each
other's sessions or processes, and run as different host uids."""

import threading
import time

from battery import STATS, host_check
from warrentest import UID_RANGE_SIZE, all_processes, in_sandbox_range


def host_uid_of(marker):
    for _ in range(50):
        for p in all_processes().values():
            if not in_sandbox_range(p.uid):  # not warren itself, which shows the same argv
                continue
            try:
                with open(f"/proc/{p.pid}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        return p.uid
            except OSError:
                pass
        time.sleep(0.05)
    raise AssertionError(f"no host process with {marker}")


def attempt(ok, message):
    STATS["attempts"] += 1
    assert ok, message
    STATS["blocked"] += 1


def test_sessions_of_different_tokens(daemon):
    a, b = daemon.create("alice"), daemon.create("bob")
    holders = []
    try:
        for sid, who, secs in ((a, "alice", "41.5"), (b, "bob", "42.5")):
            t = threading.Thread(target=daemon.exec, args=(sid, {"cmd": ["sleep", secs], "timeout": "20s"}),
                                 kwargs={"who": who})
            t.start()
            holders.append(t)
        uid_a, uid_b = host_uid_of("sleep\x0041.5"), host_uid_of("sleep\x0042.5")
        host_check(in_sandbox_range(uid_a) and in_sandbox_range(uid_b), f"host uids {uid_a} {uid_b}")
        host_check(uid_a // UID_RANGE_SIZE != uid_b // UID_RANGE_SIZE,
                   f"alice's and bob's sandboxes share a host uid range ({uid_a}, {uid_b})")
        # The API: bob cannot name alice's session.
        for method, path, body in (("GET", f"/v1/sessions/{a}", None), ("DELETE", f"/v1/sessions/{a}", None),
                                   ("POST", f"/v1/sessions/{a}/exec", {"cmd": ["true"]}),
                                   ("GET", f"/v1/sessions/{a}/files/", None),
                                   ("PUT", f"/v1/sessions/{a}/files/x", b"x")):
            r = daemon.request(method, path, body, who="bob")
            attempt(r.status == 404, f"bob {method} {path}: {r.status} {r.body[:200]!r}")
        listed = daemon.request("GET", "/v1/sessions", who="bob").json()["sessions"]
        attempt(a not in [s["id"] for s in listed], "bob lists alice's session")
        # Inside: bob sees no process of alice's and kills what he can.
        r = daemon.exec(b, {"shell": "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' <$f; echo; done "
                                     "| grep -c '[s]leep 4[12]'; kill -9 -1; echo done"}, who="bob")
        attempt(r["stdout"].split()[0] == "1", f"bob sees other than his own sleep: {r['stdout']}")
        r = daemon.exec(a, {"shell": "pgrep -f 'sleep 41.5' >/dev/null && echo alive"}, who="alice")
        attempt(r["stdout"].strip() == "alive", f"alice's process did not survive bob's kill -9 -1: {r}")
    finally:
        daemon.delete(a, who="alice")
        daemon.delete(b, who="bob")
        for t in holders:
            t.join(timeout=30)


def test_two_warren_runs_have_different_host_uids(warren):
    import subprocess
    procs = [subprocess.Popen([warren, "run", "--", "sleep", s], stdin=subprocess.DEVNULL)
             for s in ("43.5", "44.5")]
    try:
        u1, u2 = host_uid_of("sleep\x0043.5"), host_uid_of("sleep\x0044.5")
        attempt(u1 // UID_RANGE_SIZE != u2 // UID_RANGE_SIZE, f"two sandboxes share a host uid range: {u1} {u2}")
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=20)
