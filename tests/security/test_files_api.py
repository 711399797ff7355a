"""The daemon's files API (PUT/GET /v1/sessions/ID/files/PATH) against
paths that climb out (`..`, absolute, percent-encoded), symlinks the sandbox
plants and swaps while files move (CVE-2018-15664, `docker cp`), over-long
paths, NUL bytes and names that are not UTF-8. Nothing outside the
workspace may be read or written: not the host's files (the canary), not
the sandbox's own / (its /etc/passwd, its /tmp)."""

import os
import threading
import time

import pytest

from battery import STATS, host_check
from daemon_fixture import wait_for

PASSWD_MARK = b"root:x:0:0"


@pytest.fixture(scope="module")
def daemon(backend_daemon):
    """Every test here runs on each warrend backend: path safety is the daemon's promise, whatever runs
    the sandbox (docker's go through the engine's archive API)."""
    return backend_daemon


@pytest.fixture
def sid(daemon):
    s = daemon.create()
    yield s
    daemon.delete(s)


def files(sid, path):
    return f"/v1/sessions/{sid}/files/{path}"


def sh(daemon, sid, script):
    return daemon.exec(sid, {"shell": script, "timeout": "20s"})


def leaked(body, canary, host_only=False):
    _, contents = canary
    return (PASSWD_MARK in body and not host_only) or any(c.encode().strip() in body for c in contents.values())


def attempt(ok, message):
    STATS["attempts"] += 1
    assert ok, message
    STATS["blocked"] += 1


def no_deputy_writes(daemon, sid):
    """What landed outside the workspace, the sandbox user (who runs this
    search) owns and could have written there itself."""
    r = sh(daemon, sid, "find / \\( -path /proc -o -path /sys -o -path /workspace \\) -prune -o -name 'pwned*' -print "
                        "2>/dev/null | while read -r f; do [ \"$(stat -c %u \"$f\")\" = \"$(id -u)\" ] && [ -w \"${f%/*}\" ] || echo \"deputy: $(ls -ldn \"$f\") $(stat -c %u \"$f\")/$(id -u)/$(ls -ldn \"${f%/*}\")\"; "
                        "done")
    host_check("deputy" not in r["stdout"], f"written where the sandbox user could not: {r['stdout']}")


def no_writes_outside(daemon, sid):
    r = sh(daemon, sid, "ls -a /tmp; ls -a /etc | grep -c pwned; find / -xdev -name 'pwned*' 2>/dev/null "
                        "| grep -v '^/workspace' || true")
    host_check("pwned" not in r["stdout"].replace("0\n", ""), f"written outside the workspace: {r['stdout']}")


CLIMBING = ["..", "../x", "a/../../x", "%2e%2e/x", "%2E%2E%2Fx", "..%2f..%2f..%2fetc%2fpasswd",
            "workspace/../../etc/passwd", "/workspace/../etc/passwd", "a/%2e%2e/%2e%2e/etc/passwd",
            "./../../../../../../etc/passwd", "..\\..\\etc\\passwd"]


@pytest.mark.parametrize("path", CLIMBING)
def test_dotdot(daemon, sid, canary, path):
    put = daemon.request("PUT", files(sid, path), b"pwned")
    get = daemon.request("GET", files(sid, path))
    attempt(get.status != 200 or not leaked(get.body, canary), f"GET {path}: {get.status} {get.body[:200]!r}")
    climbs = ".." in path.replace("%2e", ".").replace("%2E", ".") and "\\" not in path  # "\\" is a name byte
    # 400: a "." or ".." segment, escaped or not, is refused before routing
    attempt(not climbs or put.status == 400, f"PUT {path} answered {put.status} {put.body!r}")
    attempt(not climbs or get.status == 400, f"GET {path} answered {get.status} {get.body[:200]!r}")
    no_writes_outside(daemon, sid)


def test_dot_segments_never_reach_another_route(daemon, sid):
    # h2o resolves ".." (and %2F) before routing: without the check these
    # became DELETE /v1/sessions/SID and GET /v1/sessions
    for method, path in [("DELETE", f"..%2F..%2F{sid}"), ("DELETE", f"../../{sid}"), ("GET", "..%2F..%2F"),
                         ("GET", "..%2f..%2f..%2fhealth"), ("PUT", f"%2e%2e/%2e%2e/{sid}")]:
        r = daemon.request(method, files(sid, path), b"x" if method == "PUT" else None)
        attempt(r.status == 400 and b"segment" in r.body, f"{method} files/{path}: {r.status} {r.body[:200]!r}")
    r = sh(daemon, sid, "echo alive")
    host_check(r["stdout"] == "alive\n", f"the session did not survive: {r}")


def test_absolute_paths_stay_in_the_workspace(daemon, sid, canary):
    _, contents = canary
    for path in ["/etc/passwd", "//etc/passwd", "/proc/1/root/etc/passwd", "/proc/self/environ", *contents]:
        get = daemon.request("GET", files(sid, path.lstrip("/") if path.startswith("//") else path))
        attempt(get.status != 200 or not leaked(get.body, canary) and b"PATH=" not in get.body,
                f"GET {path}: {get.status} {get.body[:200]!r}")
    host_path = next(iter(contents))
    put = daemon.put(sid, host_path.lstrip("/"), b"pwned-abs")
    attempt(put.status in (201, 400), f"PUT {host_path}: {put.status}")
    if put.status == 201:
        r = sh(daemon, sid, f"cat /workspace{host_path}")
        host_check(r["stdout"] == "pwned-abs", f"the absolute path did not land in the workspace: {r}")
    no_writes_outside(daemon, sid)


def test_symlinks_planted_by_the_sandbox(daemon, sid, canary):
    d, contents = canary
    host_file = next(iter(contents))
    sh(daemon, sid, f"cd /workspace && ln -s / root && ln -s /etc/passwd pw && ln -s /proc/1/root r1 && "
                    f"ln -s {host_file} c && ln -s {d} cdir && ln -s ../../../../.. up && ln -s /tmp t && "
                    f"ln -s /proc/self/cwd cwd")
    reads = ["root/etc/passwd", "pw", "r1/etc/passwd", "c", f"cdir/{os.path.basename(host_file)}",
             "up/etc/passwd", "cwd/etc/passwd", "root/proc/1/environ", "t"]
    for path in reads:
        get = daemon.get(sid, path)
        attempt(get.status != 200 or not leaked(get.body, canary), f"GET {path}: {get.status} {get.body[:200]!r}")
    passwd_before = sh(daemon, sid, "cat /etc/passwd")["stdout"]
    # Paths resolve inside the workspace (README: openat2 RESOLVE_IN_ROOT, so
    # "/" is the workspace) and a last component that is a symlink is never
    # followed (400); on docker a path through any symlink is refused (400,
    # warrend.conf(5)).
    expected = {"pw": 400, "c": 400, "root/tmp/pwned1": 201, "t/pwned2": 201, "up/tmp/pwned3": 201,
                "r1/tmp/pwned4": 404, f"cdir/{os.path.basename(host_file)}": 404, "cdir/pwned5": 404}
    for path, status in expected.items():
        put = daemon.put(sid, path, b"pwned")
        want = 400 if daemon.backend == "docker" else status
        attempt(put.status == want, f"PUT {path}: {put.status} (want {want}) {put.body!r}")
    r = sh(daemon, sid, "readlink /workspace/pw /workspace/c")
    host_check(r["stdout"] == f"/etc/passwd\n{host_file}\n", f"the symlinks were replaced: {r}")
    # No write went through pw (on docker the archive API runs as root: only this read would show it).
    passwd = sh(daemon, sid, "cat /etc/passwd")["stdout"]
    host_check(passwd == passwd_before, f"/etc/passwd changed: {passwd_before!r} -> {passwd!r}")
    landed = sh(daemon, sid, "ls -A /workspace/tmp 2>/dev/null; true")["stdout"].split()
    want = [] if daemon.backend == "docker" else ["pwned1", "pwned2", "pwned3"]
    host_check(landed == want, f"the writes through root/, t/ and up/ landed elsewhere: {landed}")
    no_writes_outside(daemon, sid)


SWAPPER = r"""
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
os.chdir('/workspace')
os.makedirs('real/etc', exist_ok=True)
open('real/etc/passwd', 'w').write('inside\n')
open('freal', 'w').write('inside\n')
os.symlink(sys.argv[1], 'd')
os.symlink('/etc/passwd', 'f')
os.makedirs('realc', exist_ok=True)
os.symlink(sys.argv[2], 'c')
n = 0
end = time.monotonic() + float(sys.argv[3])
while time.monotonic() < end:
    for a, b in ((b'real', b'd'), (b'freal', b'f'), (b'realc', b'c')):
        libc.renameat2(-100, a, -100, b, 2)  # RENAME_EXCHANGE
    n += 1
print(n)
"""


def test_symlink_swap_race_during_upload_and_download(daemon, sid, canary):
    """The sandbox swaps a directory and a symlink (to /, and to the host
    canary's directory) in a loop while the client uploads and downloads
    through them; no read or write may ever land outside the workspace.
    On docker the engine's archive API resolves paths itself, after our
    check: a racing sandbox can move a transfer elsewhere in its own
    container (warrend.conf(5)), never to the host, and never where the
    sandbox user could not read or write itself."""
    d, contents = canary
    engine = daemon.backend == "docker"
    host_name = os.path.basename(next(iter(contents)))
    swaps = {}
    swapper = threading.Thread(target=lambda: swaps.update(daemon.exec(sid, {
        "cmd": ["python3", "-c", SWAPPER, "/", d, "4"], "timeout": "20s"})))
    swapper.start()
    # The race starts once the swapper has planted its last symlink.
    planted = wait_for(lambda: daemon.get(sid, "c").status != 404 or not swapper.is_alive(), 30)
    host_check(planted and swapper.is_alive(), f"the swapper did not start: {swaps}")
    # What a PUT may answer while the path changes under it: written (201),
    # a symlink met (400), a part missing (404); on docker also the engine
    # writing into the read-only image (403) or the path changed between
    # check and write (409) (warrend.conf(5)).
    allowed = {201, 400, 404} | ({403, 409} if engine else set())
    written = set()
    ops = 0
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        for path in ("d/etc/passwd", "f", f"c/{host_name}"):
            get = daemon.get(sid, path)
            ops += 1
            attempt(get.status != 200 or not leaked(get.body, canary, host_only=engine),
                    f"GET {path} raced out: {get.body[:200]!r}")
        for path in (f"d/tmp/pwned-{ops}", "f", f"c/{host_name}", f"d/etc/pwned-{ops}"):
            put = daemon.put(sid, path, b"pwned")
            ops += 1
            attempt(put.status in allowed, f"PUT {path}: {put.status} {put.body!r}")
            if put.status == 201 and "pwned-" in path:
                written.add(os.path.basename(path))
    swapper.join(timeout=30)
    # Every new file answered 201 exists, inside the workspace (on docker:
    # somewhere in its container, and no_deputy_writes checks who could write there).
    where = "/" if engine else "/workspace"
    found = sh(daemon, sid, f"find {where} \\( -path /proc -o -path /sys \\) -prune -o -name 'pwned-*' -print "
                            "2>/dev/null; true")["stdout"].split()
    attempt({os.path.basename(f) for f in found} == written,
            f"the files answered 201 are not where they should be: 201 for {sorted(written)}, found {found}")
    res = swaps
    host_check(res.get("exit_code") == 0 and int(res["stdout"].split()[-1]) > 100,
               f"the swapper did not race: {res}")
    host_check(ops > 20, f"only {ops} file operations raced")
    if engine:
        no_deputy_writes(daemon, sid)
    else:
        no_writes_outside(daemon, sid)


def test_overlong_paths(daemon, sid):
    for path in ["a" * 5000, "/".join(["b" * 200] * 30), "c" * 300, "d/" * 2100 + "e"]:
        for method in ("PUT", "GET"):
            r = daemon.request(method, files(sid, path), b"x" if method == "PUT" else None)
            # 400: files_normalize refuses a path or a name longer than the kernel takes
            attempt(r.status == 400, f"{method} of a {len(path)}-byte path: {r.status} {r.body[:100]!r}")
    host_check(daemon.alive(), "warrend died on a long path")


def test_nul_bytes(daemon, sid):
    for path in ["a%00b", "%00", "x%00/../../etc/passwd", "ok.txt%00.png"]:
        for method in ("PUT", "GET"):
            r = daemon.request(method, files(sid, path), b"x" if method == "PUT" else None)
            attempt(r.status == 400, f"{method} {path}: {r.status} {r.body!r}")
    r = sh(daemon, sid, "ls -A /workspace")
    host_check(r["stdout"] == "", f"a NUL path created something: {r['stdout']!r}")


def test_names_that_are_not_utf8(daemon, sid):
    for path in ["%ff%fe.bin", "a%c3%28b", "%ed%a0%80", "dir%80/x"]:
        put = daemon.request("PUT", files(sid, path), b"bytes")
        attempt(put.status in (201, 400), f"PUT {path}: {put.status} {put.body!r}")
        if put.status == 201:
            get = daemon.request("GET", files(sid, path))
            host_check(get.status == 200 and get.body == b"bytes", f"GET {path}: {get.status} {get.body!r}")
    listing = daemon.get(sid, "")
    host_check(listing.status == 200, f"listing after odd names: {listing.status}")
    listing.json()  # valid JSON whatever the names
    r = sh(daemon, sid, "ls /workspace | wc -l")
    host_check(r["exit_code"] == 0, f"{r}")
