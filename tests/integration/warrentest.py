"""Helpers for the integration tests: run the binary, read host state."""

import fcntl
import os
import re
import select
import struct
import subprocess
import termios
import time
from dataclasses import dataclass, field

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MUST_RUN = os.environ.get("WARREN_MUST_RUN") == "1"

# Host uids of sandboxes started by root (the default layout, userns.h): 16376
# ranges of 16384 uids from 0x70000000, up to 0x7FFDFFFF (clear of systemd's
# foreign range).
UID_RANGE_BASE = 0x70000000
UID_RANGE_SIZE = 16384
UID_RANGE_SLOTS = 16376
SANDBOX_UID = 1000

EXIT_TIMEOUT = 124
EXIT_SETUP = 125
EXIT_CANNOT_EXEC = 126
EXIT_NOT_FOUND = 127


def warren_path():
    """$WARREN, or the lead's build in <repo>/_build."""
    return os.environ.get("WARREN") or os.path.join(REPO, "_build", "warren")


CGROUP_ROOT = "/sys/fs/cgroup"


# --- running the binary ---------------------------------------------------------


@dataclass
class Sandbox:
    """Host-side facts about one sandbox, parsed from `warren run -v`."""

    uid_first: int = -1
    uid_last: int = -1
    slot: int = -1
    cgroup_dirs: list = field(default_factory=list)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    sandbox: Sandbox
    seconds: float

    @property
    def errors(self):
        """stderr lines without the -v chatter."""
        return "\n".join(l for l in self.stderr.splitlines() if not VERBOSE_LINE.match(l))


VERBOSE_LINE = re.compile(
    r"^warren: (policy \S+ \([^)]*\)$|user namespace: |rootless: |cgroup v[12] |workspace: |seccomp: \d|"
    r"network: |exited with |killed by signal |templates?: )"
)


def parse_verbose(stderr):
    sb = Sandbox()
    m = re.search(r"host uids (\d+)-(\d+) \(range (\d+)\)", stderr)
    if m:
        sb.uid_first, sb.uid_last, sb.slot = (int(g) for g in m.groups())
    m = re.search(r"cgroup v1 (\S+)/\{([a-z,]+)\}/(\S+?):", stderr)
    if m:
        sb.cgroup_dirs = [f"{m.group(1)}/{c}/{m.group(3)}" for c in m.group(2).split(",")]
    m = re.search(r"cgroup v2 (\S+?):", stderr)
    if m:
        sb.cgroup_dirs = [m.group(1)]
    return sb


def run(warren, *args, input=None, timeout=60, env=None, check_clean=True):
    """`warren run -v ARGS...`; returns a Result. With check_clean, also asserts
    that the sandbox's cgroups and processes are gone once warren returned."""
    argv = [warren, "run", "-v", *args]
    start = time.monotonic()
    # Without input, stdin is /dev/null: a sandbox must never read the terminal of whoever runs the tests.
    stdin = subprocess.DEVNULL if input is None else None
    p = subprocess.run(argv, input=input, stdin=stdin, capture_output=True,
                       text=isinstance(input, str) or input is None, timeout=timeout, env=env)
    seconds = time.monotonic() - start
    out, err = p.stdout, p.stderr
    if isinstance(err, bytes):
        err = err.decode(errors="replace")
    res = Result(p.returncode, out, err, parse_verbose(err), seconds)
    if check_clean:
        assert_sandbox_gone(res.sandbox)
    return res


def assert_sandbox_gone(sb):
    for d in sb.cgroup_dirs:
        assert not os.path.exists(d), f"cgroup {d} left behind after warren returned"
    if sb.uid_first >= 0:
        left = [p for p in sandbox_processes() if sb.uid_first <= p.uid <= sb.uid_last]
        assert not left, f"processes of the sandbox left behind: {left}"


# --- host state -------------------------------------------------------------------


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    uid: int
    comm: str


def read_proc(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            status = f.read()
    except OSError:
        return None
    fields = dict(l.split(":", 1) for l in status.splitlines() if ":" in l)
    return Proc(pid, int(fields["PPid"]), int(fields["Uid"].split()[1]), fields["Name"].strip())


def all_processes():
    procs = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            p = read_proc(int(name))
            if p:
                procs[p.pid] = p
    return procs


def uid_range_of(uid):
    """The slot of the default layout a host uid belongs to."""
    return (uid - UID_RANGE_BASE) // UID_RANGE_SIZE


def in_sandbox_range(uid):
    return UID_RANGE_BASE <= uid < UID_RANGE_BASE + UID_RANGE_SLOTS * UID_RANGE_SIZE


def sandbox_processes():
    return [p for p in all_processes().values() if in_sandbox_range(p.uid)]


def descends_from(procs, pid, ancestor):
    seen = set()
    while pid in procs and pid not in seen:
        if pid == ancestor:
            return True
        seen.add(pid)
        pid = procs[pid].ppid
    return pid == ancestor


def foreign_owner(procs, pid):
    """True if the process belongs to a live `warren` run by someone else
    (other developers run sandboxes on this host at the same time)."""
    me = os.getpid()
    seen = set()
    while pid in procs and pid not in seen and pid != 1:
        seen.add(pid)
        p = procs[pid]
        if p.uid == 0 and p.comm.startswith("warren"):
            return not descends_from(procs, pid, me)
        pid = p.ppid
    return False


def warren_cgroups(parent="warren"):
    """Sandbox cgroup directories under `parent` (warren's, or a
    WARREN_CGROUP_PARENT), for cgroup v1 (hybrid) and v2 hosts: in every
    hierarchy, as an OCI runtime makes a container's cgroup in each
    (freezer, devices, unified, …), not only in warren's controllers."""
    try:
        hierarchies = [e.path for e in os.scandir(CGROUP_ROOT) if e.is_dir(follow_symlinks=False)]
    except OSError:
        hierarchies = []
    parents = [f"{CGROUP_ROOT}/{parent}"] + [f"{h}/{parent}" for h in hierarchies]
    found = set()
    for parent in parents:
        try:
            entries = os.scandir(parent)
        except OSError:
            continue
        with entries:
            found.update(e.path for e in entries if e.is_dir(follow_symlinks=False))
    return found


def cgroup_owner_alive_elsewhere(path, procs):
    """Sandbox cgroups are named run-<warren pid>-<slot> (warren run) or
    wd-<warrend pid>-<n> (warrend): ignore those of a live
    warren that is not ours."""
    m = re.match(r"(?:run|wd)-(\d+)-", os.path.basename(path))
    if not m:
        return False
    pid = int(m.group(1))
    return pid in procs and not descends_from(procs, pid, os.getpid())


# Mounts the Docker API engine of the docker backend's tests makes and keeps
# for itself (its storage, its network namespaces): the engine's, not
# warren's. A container left behind is caught by backend_leftovers instead.
ENGINE_MOUNT_PREFIXES = (os.environ.get("WARREN_PODMAN_ROOT", "/var/lib/warren-test/podman") + "/", "/run/netns",
                         "/run/warren-test/")
# warren run's template store (warren(1) FILES): made by the first run as
# root after boot and kept by design, like /run/warren/uid-ranges.lock; the
# templates themselves are in a mount namespace of their own.
TEMPLATE_STORE = "/run/warren/templates"


def mounts():
    with open("/proc/self/mountinfo") as f:
        # mount id, mount point, fs type and source identify a mount.
        out = set()
        for line in f:
            left, right = line.split(" - ", 1)
            left, right = left.split(), right.split()
            if left[4].startswith(ENGINE_MOUNT_PREFIXES) or left[4] in (TEMPLATE_STORE, TEMPLATE_STORE + "/ns"):
                continue
            out.add((left[0], left[4], right[0], right[1]))
        return out


@dataclass
class HostState:
    pids: set
    mounts: set
    cgroups: set


def snapshot():
    return HostState({p.pid for p in sandbox_processes()}, mounts(), warren_cgroups())


def leftovers(before):
    procs = all_processes()
    left_procs = [p for p in procs.values()
                  if in_sandbox_range(p.uid) and p.pid not in before.pids and not foreign_owner(procs, p.pid)]
    left_mounts = sorted(mounts() - before.mounts)
    left_cgroups = sorted(c for c in warren_cgroups() - before.cgroups
                          if not cgroup_owner_alive_elsewhere(c, procs))
    return left_procs, left_mounts, left_cgroups



def read_past_a_gate(p, n_lines, open_gate, ceiling=30):
    """For a subprocess (text stdout) whose command prints, then waits until
    a gate is opened: reads its first n_lines (failing if nothing comes
    within ceiling seconds: the output was held back), opens the gate, and
    reads the rest. Returns (first lines joined, rest); kills p on failure."""
    import select
    try:
        ready, _, _ = select.select([p.stdout], [], [], ceiling)
        assert ready, f"no output within {ceiling} s while the command waits: it is not streamed"
        first = "".join(p.stdout.readline() for _ in range(n_lines))
        open_gate()
        rest = p.stdout.read()
        assert p.wait(timeout=ceiling) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdout.close()
    return first, rest


def python_in_sandbox(code):
    """argv tail that runs a Python snippet inside the sandbox."""
    return ["--", "python3", "-c", code]


# --- backends (warrend --backend) ------------------------------------------------------

# The backends the daemon API suites run against; WARREN_TEST_BACKENDS narrows it
# ("native" alone for a quick run), but not under WARREN_MUST_RUN=1, where
# leaving a backend out would pass its tests unseen.
ALL_BACKENDS = ["native", "oci", "docker"]
BACKENDS = os.environ.get("WARREN_TEST_BACKENDS", " ".join(ALL_BACKENDS)).split()
if MUST_RUN and sorted(BACKENDS) != sorted(ALL_BACKENDS):
    raise pytest.UsageError(f"WARREN_TEST_BACKENDS={os.environ.get('WARREN_TEST_BACKENDS')!r} leaves out backends "
                     f"under WARREN_MUST_RUN=1: every backend ({' '.join(ALL_BACKENDS)}) must run")
# The Docker-API engine the docker backend's tests use (tests/backends/podman-service).
DOCKER_SOCKET = os.environ.get("WARREN_DOCKER_SOCKET", "/run/warren-test/podman.sock")
# The engine image standing in for "host" (tests/backends/import-image).
DOCKER_HOST_IMAGE = os.environ.get("WARREN_DOCKER_HOST_IMAGE", "warren-python")


# The command lines of every process a sandbox sees, from /proc: images
# (the docker backend's stand-in for "host") need not have procps' ps.
# (a process that ends during the walk is skipped, not an error)
PS_ARGS = ["sh", "-c", "for p in /proc/[0-9]*; do (tr '\\0' ' ' <\"$p/cmdline\") 2>/dev/null && echo; done; exit 0"]


def backend_unavailable(backend):
    """Why this host cannot run the backend's tests, or None."""
    import shutil
    if backend == "oci" and not shutil.which("runc"):
        return "no runc (scripts/install-deps installs it)"
    if backend == "docker":
        if not os.path.exists(DOCKER_SOCKET):
            return f"no Docker API engine at {DOCKER_SOCKET} (tests/backends/podman-service start)"
        if docker_api("GET", f"/images/{DOCKER_HOST_IMAGE}/json")[0] != 200:
            return f"the engine has no image {DOCKER_HOST_IMAGE} (tests/backends/import-image)"
    return None


def backend_config(backend):
    """warrend.conf lines that select the backend as the tests run it."""
    lines = [f"backend = {backend}"]
    if backend == "docker":
        lines += [f"docker_socket = {DOCKER_SOCKET}", f"docker_host_image = {DOCKER_HOST_IMAGE}"]
    return "\n".join(lines) + "\n"


def docker_api(method, path, body=None):
    """(status, parsed JSON body) of one request (with a JSON body, when
    given) to the engine's socket."""
    import http.client
    import json
    import socket

    class Conn(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(30)
            self.sock.connect(DOCKER_SOCKET)

    c = Conn("localhost")
    try:
        if body is None:
            c.request(method, path)
        else:
            c.request(method, path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        r = c.getresponse()
        body = r.read()
        try:
            return r.status, json.loads(body or b"null")
        except ValueError:
            return r.status, body
    finally:
        c.close()


def backend_leftovers(backend, state_dir, daemon_pid):
    """What a stopped daemon's backend left: containers and runtime state."""
    left = []
    mine = f"wd-{daemon_pid}-"
    if backend == "oci":
        root = os.path.join(state_dir, "oci")
        if os.path.isdir(root):
            left += [f"runc state {n}" for n in os.listdir(root) if n.startswith(mine)]
        bundles = os.path.join(state_dir, "oci-bundles")
        if os.path.isdir(bundles):
            left += [f"bundle {n}" for n in os.listdir(bundles) if n.startswith(mine)]
    if backend == "docker" and os.path.exists(DOCKER_SOCKET):
        status, containers = docker_api("GET", "/containers/json?all=1")
        # an engine that cannot list would hide every leftover: say so
        assert status == 200, f"the engine did not list its containers: {status} {containers}"
        left += [f"container {n}" for c in containers
                 for n in c.get("Names", []) if n.lstrip("/").startswith(mine)]
    return left


# --- a terminal of the test's own ------------------------------------------------------

TERMINAL_CEILING = 30  # seconds any awaited output may take on a loaded host


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class Terminal:
    """A command (warren run -t, warren exec -it …) on the slave of a pty
    whose master the test holds: its stdin, stdout, stderr and controlling
    terminal, so resizing the pty sends it SIGWINCH. The test keeps the
    slave open too, to read the terminal's modes."""

    def __init__(self, argv, rows=24, cols=80, env=None):
        self.master, self.slave = os.openpty()
        set_size(self.master, rows, cols)
        self.cooked = termios.tcgetattr(self.slave)
        slave = self.slave

        def controlling_terminal():
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                     preexec_fn=controlling_terminal, env=env)
        self.out = b""

    def read_until(self, pattern, ceiling=TERMINAL_CEILING):
        """Reads until `pattern` (bytes, a regex) is in the output."""
        deadline = time.monotonic() + ceiling
        while not re.search(pattern, self.out):
            left = deadline - time.monotonic()
            assert left > 0, f"never saw {pattern!r}; the terminal showed {self.out!r}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                self.out += os.read(self.master, 65536)
        return self.out

    def write(self, data):
        os.write(self.master, data)

    def modes(self):
        return termios.tcgetattr(self.slave)

    def is_raw(self):
        lflag = self.modes()[3]
        return not (lflag & (termios.ICANON | termios.ECHO | termios.ISIG))

    def wait(self, ceiling=TERMINAL_CEILING):
        status = self.proc.wait(timeout=ceiling)
        while select.select([self.master], [], [], 0)[0]:
            self.out += os.read(self.master, 65536)
        return status

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)
        os.close(self.slave)
