"""Collecting files from a sandbox (warrend's "collect" and artifacts,
`warren run --collect`) against what a sandbox can plant where its files are
collected: symlinks to its own /etc/passwd and /etc/shadow, to /, to /proc
and to host paths, hard links, fifos and sockets, and a file or a directory
swapped for a symlink while the collector works. Nothing but the sandbox's
own bytes may come back, a fifo must not hang the collector, and `warren
run --collect` must never write through a link planted in the host
directory it writes to."""

import base64
import os
import subprocess
import threading
import urllib.request

import pytest

from battery import STATS, host_check

PASSWD_MARK = b"root:x:0:0"

pytestmark = pytest.mark.backends("native", "oci", why="warrend collects through the sandbox's /workspace and /tmp "
                                  "fds; the docker backend answers 501 (warrend.conf(5))")


@pytest.fixture(scope="module")
def daemon(backend_daemon):
    return backend_daemon


def attempt(ok, message):
    STATS["attempts"] += 1
    assert ok, message
    STATS["blocked"] += 1


def contents(daemon, collected):
    """Every collected file's bytes: inline, or fetched by its URL without a token."""
    out = {}
    for f in collected:
        if "content_base64" in f:
            out[f["path"]] = base64.b64decode(f["content_base64"])
        else:
            with urllib.request.urlopen(f["url"], timeout=60) as r:
                out[f["path"]] = r.read()
    return out


def leaks(body, canary):
    _, files = canary
    return PASSWD_MARK in body or b"root:" in body or any(c.encode().strip() in body for c in files.values())


PLANT = """
set -u
mkdir -p /tmp/output /workspace/out
cd /tmp/output
echo mine > own.txt
ln -s /etc/passwd passwd; ln -s /etc/shadow shadow; ln -s / root; ln -s /proc/self/environ environ
ln -s ../../etc/passwd up; ln -s {canary} canary; ln -s /workspace/out wsdir
ln /etc/passwd hard-passwd 2>/dev/null && echo HARDLINK-PASSWD
ln /workspace/out hard-dir 2>/dev/null && echo HARDLINK-DIR
ln own.txt hard-own
mkfifo fifo
python3 -c 'import socket; socket.socket(socket.AF_UNIX).bind("sock")'
echo done
"""


def test_planted_links_fifos_and_sockets(daemon, canary):
    canary_dir, _ = canary
    body = {"shell": PLANT.format(canary=os.path.join(canary_dir, "canary")), "collect": ["/tmp/output/", "/workspace/out/"],
            "timeout": "30s"}
    r = daemon.request("POST", "/v1/run", body, timeout=90)  # a fifo that hung the collector would time out
    attempt(r.status == 200, f"the run did not come back: {r.status} {r.body[:300]!r}")
    doc = r.json()
    assert doc["stdout"].endswith("done\n") and "HARDLINK" not in doc["stdout"], doc
    got = contents(daemon, doc["collected"])
    attempt(set(got) == {"/tmp/output/own.txt", "/tmp/output/hard-own"},
            f"collected more than the sandbox's own files: {sorted(got)}")
    for path, data in got.items():
        attempt(data == b"mine\n" and not leaks(data, canary), f"{path}: {data[:100]!r}")
    left = {os.path.basename(f["path"]): f["code"] for f in doc["not_collected"]}
    for name in ("passwd", "shadow", "root", "environ", "up", "canary", "wsdir"):
        attempt(left.get(name) == "symlink", f"{name}: {left}")
    for name in ("fifo", "sock"):
        attempt(left.get(name) == "not_regular", f"{name}: {left}")
    host_check(daemon.alive(), "warrend stopped answering")


SWAP_FILE = """
cd /tmp/output
end=$(( $(date +%s) + 8 ))
while [ $(date +%s) -lt $end ]; do
    echo mine > x.f; mv -f x.f x
    ln -sf /etc/passwd x.l; mv -f x.l x
    mkdir -p d.d; echo mine > d.d/f; rm -rf d.old; mv d d.old 2>/dev/null; mv d.d d
    ln -sfn /etc d.l; rm -rf d.old; mv d d.old 2>/dev/null; mv -T d.l d
done
echo swapped
"""


def test_swapped_for_a_symlink_during_collection(daemon, canary):
    """A file, and a directory, swapped for a link to /etc again and again
    while the collector runs: whatever it meets, it never follows."""
    sid = daemon.create()
    try:
        daemon.exec(sid, {"shell": "mkdir -p /tmp/output && echo mine > /tmp/output/x"})
        swapper = threading.Thread(target=daemon.exec, args=(sid, {"shell": SWAP_FILE, "timeout": "20s"}))
        swapper.start()
        tries = mine = 0
        while swapper.is_alive() and tries < 400:
            r = daemon.request("POST", f"/v1/sessions/{sid}/artifacts", {"paths": ["/tmp/output/x", "/tmp/output/d/"]})
            attempt(r.status == 200, f"{r.status} {r.body[:300]!r}")
            for path, data in contents(daemon, r.json()["collected"]).items():
                attempt(data == b"mine\n" and not leaks(data, canary), f"{path} came back as {data[:100]!r}")
                mine += 1
            tries += 1
        swapper.join()
        assert mine > 0, "never collected the sandbox's own file: the race was not run"
    finally:
        daemon.delete(sid)
    host_check(daemon.alive(), "warrend stopped answering")


def test_warren_run_collect_never_writes_through_planted_links(warren, canary, tmp_path):
    """The workspace is a host directory that is also where --collect
    writes: the sandbox plants links there to the host's canary (as the
    file's name, and as a directory on the way) before its files are
    copied out as root."""
    canary_dir, _ = canary
    out = tmp_path / "out"
    out.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(out, 0o777)
    script = (f"mkdir -p /tmp/res/sub && echo pwned > /tmp/res/report.txt && echo pwned > /tmp/res/sub/s.txt && "
              f"ln -s {os.path.join(canary_dir, 'canary')} /workspace/report.txt && ln -s {canary_dir} "
              f"/workspace/sub && echo planted")
    p = subprocess.run([warren, "run", "-w", str(out), "--collect", "/tmp/res/", "--output-dir", str(out), "--",
                        "sh", "-c", script], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode == 0 and p.stdout == "planted\n", (p.returncode, p.stdout, p.stderr)
    # the canary's content, mtime and atime: host_unharmed checks them after the test
    attempt("report.txt is a symbolic link in the output directory (not followed)" in p.stderr, p.stderr)
    attempt("sub is a symbolic link in the output directory (not followed)" in p.stderr, p.stderr)
    attempt(not os.path.exists(os.path.join(canary_dir, "s.txt")), "s.txt beside the canary")
