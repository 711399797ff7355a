"""What the command sees of the filesystem: a read-only root and /usr, a
writable size-capped /workspace and /tmp, a --workspace directory whose files
belong to the caller on the host, a /proc with sensitive paths masked, a
minimal /dev, nosuid/nodev mounts, no trace of the host's root, and --image."""

import errno
import json
import os
import shutil
import stat
import tempfile

import pytest

from warrentest import EXIT_SETUP, python_in_sandbox, run

MiB = 1 << 20

# Tries to create a file in each directory given; prints {dir: "ok" | errno name}.
WRITE_PROBE = r"""
import errno, json, os, sys
out = {}
for d in sys.argv[1:]:
    try:
        fd = os.open(os.path.join(d, ".warren-write-probe"), os.O_WRONLY | os.O_CREAT, 0o644)
        os.close(fd)
        out[d] = "ok"
    except OSError as e:
        out[d] = errno.errorcode[e.errno]
print(json.dumps(out))
"""


def test_root_usr_and_etc_are_read_only(warren):
    r = run(warren, "--", "python3", "-c", WRITE_PROBE, "/", "/usr", "/usr/bin", "/etc", "/var")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    for d, result in got.items():
        assert result in ("EROFS", "EACCES"), f"{d} is writable in the sandbox ({result})"


def test_workspace_and_tmp_are_writable(warren):
    r = run(warren, "--", "python3", "-c", WRITE_PROBE, "/workspace", "/tmp", "/dev/shm")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"/workspace": "ok", "/tmp": "ok", "/dev/shm": "ok"}


# Writes up to `size` bytes in 256K chunks to `path`; prints how much got written and why it stopped.
FILL = r"""
import errno, os, sys
path, size = sys.argv[1], int(sys.argv[2])
done, why = 0, "complete"
with open(path, "wb", buffering=0) as f:
    chunk = b"x" * (256 << 10)
    while done < size:
        try:
            done += f.write(chunk)
        except OSError as e:
            why = errno.errorcode[e.errno]
            break
print(done, why)
"""


def fill(warren, path, size, *flags):
    r = run(warren, *flags, "--", "python3", "-c", FILL, path, str(size))
    assert r.returncode == 0, r.stderr
    done, why = r.stdout.split()
    return int(done), why


def test_workspace_size_caps_workspace(warren):
    done, why = fill(warren, "/workspace/big", 8 * MiB, "--workspace-size", "2M")
    assert why == "ENOSPC" and done <= 2 * MiB, f"wrote {done} bytes into a 2M workspace ({why})"


def test_tmp_size_caps_tmp(warren):
    done, why = fill(warren, "/tmp/big", 8 * MiB, "--tmp-size", "2M")
    assert why == "ENOSPC" and done <= 2 * MiB, f"wrote {done} bytes into a 2M /tmp ({why})"


def test_default_caps_come_from_the_policy(warren):
    # default.json: workspace 1G, tmp 256M, memory 512M; a tmpfs is at most
    # the memory less a reserve (a quarter, at most 32M): 480M.
    r = run(warren, *python_in_sandbox(
        "import os\n"
        "for d in ('/workspace', '/tmp'):\n"
        "    s = os.statvfs(d); print(s.f_blocks * s.f_frsize)\n"))
    assert r.returncode == 0, r.stderr
    assert [int(x) for x in r.stdout.split()] == [480 * MiB, 256 * MiB]


def test_workspace_dir_is_shared_and_files_belong_to_the_caller(warren, workspace):
    (workspace / "input.txt").write_text("from the host\n")
    r = run(warren, "--workspace", str(workspace), "--", "sh", "-c",
            "stat -c '%u %g' input.txt && cat input.txt && echo result > output.txt && mkdir sub && "
            "echo deep > sub/file")
    assert r.returncode == 0, r.stderr
    owner, content = r.stdout.split("\n", 1)
    assert owner == "1000 1000", "the caller's files should appear as the sandbox user's"
    assert content == "from the host\n"
    assert (workspace / "output.txt").read_text() == "result\n"
    for p in (workspace / "output.txt", workspace / "sub", workspace / "sub" / "file"):
        st = p.stat()
        assert (st.st_uid, st.st_gid) == (os.getuid(), os.getgid()), f"{p} is owned by {st.st_uid}:{st.st_gid}"


def test_workspace_dir_that_does_not_exist_is_a_clear_error(warren, tmp_path):
    missing = tmp_path / "missing"
    r = run(warren, "--workspace", str(missing), "--", "true")
    assert r.returncode == EXIT_SETUP
    assert str(missing) in r.errors, r.stderr


# Paths of /proc that leak host information or control the host. Some do not
# exist on every kernel; whatever exists must be neither readable nor writable.
PROC_SENSITIVE = ["/proc/kcore", "/proc/sysrq-trigger", "/proc/kmsg", "/proc/kallsyms", "/proc/keys",
                  "/proc/timer_list", "/proc/sched_debug", "/proc/kpagecount", "/proc/kpageflags",
                  "/proc/kpagecgroup", "/proc/config.gz", "/proc/latency_stats", "/proc/timer_stats",
                  "/proc/acpi", "/proc/scsi"]

PROC_PROBE = r"""
import errno, json, os, sys
def attempt(path, flags):
    try:
        if os.path.isdir(path):
            return "listable" if os.listdir(path) else "empty"
        fd = os.open(path, flags)
        try:
            return "has-content" if flags == os.O_RDONLY and os.read(fd, 64) else "opened"
        finally:
            os.close(fd)
    except OSError as e:
        return errno.errorcode[e.errno]
print(json.dumps({p: [attempt(p, os.O_RDONLY), attempt(p, os.O_WRONLY)] for p in sys.argv[1:]}))
"""


def test_sensitive_proc_paths_are_masked(warren):
    r = run(warren, "--", "python3", "-c", PROC_PROBE, *PROC_SENSITIVE)
    assert r.returncode == 0, r.stderr
    for path, (read, write) in json.loads(r.stdout).items():
        assert read in ("ENOENT", "EACCES", "EPERM", "empty", "opened"), f"{path} is readable: {read}"
        assert write not in ("opened", "listable"), f"{path} is writable"


def test_proc_sys_is_read_only(warren):
    r = run(warren, *python_in_sandbox(
        "import errno\n"
        "try:\n"
        "    open('/proc/sys/kernel/hostname', 'w').write('pwned')\n"
        "    print('written')\n"
        "except OSError as e:\n"
        "    print(errno.errorcode[e.errno])\n"
        "for l in open('/proc/self/mountinfo'):\n"
        "    f = l.split()\n"
        "    if f[4] == '/proc/sys': print(f[5])\n"))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split()
    assert lines[0] in ("EROFS", "EACCES"), f"/proc/sys/kernel/hostname: {lines[0]}"
    assert len(lines) == 2 and "ro" in lines[1].split(","), f"/proc/sys is not mounted read-only: {lines[1:]}"


def test_proc_shows_only_the_sandbox_processes(warren):
    r = run(warren, *python_in_sandbox("import os; print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))"))
    assert r.returncode == 0, r.stderr
    pids = json.loads(r.stdout)
    assert len(pids) <= 3 and 1 in pids, f"the sandbox sees other processes: {pids}"


DEV_PROBE = r"""
import json, os, pty
out = {"entries": sorted(os.listdir("/dev")), "pts_before": sorted(os.listdir("/dev/pts"))}
with open("/dev/zero", "rb") as f: out["zero"] = f.read(4) == bytes(4)
with open("/dev/urandom", "rb") as f: out["urandom"] = len(f.read(16))
with open("/dev/random", "rb") as f: out["random"] = len(f.read(16))
with open("/dev/null", "wb") as f: f.write(b"x")
with open("/dev/null", "rb") as f: out["null"] = f.read()  == b""
try:
    with open("/dev/full", "wb", buffering=0) as f: f.write(b"x")
    out["full"] = "written"
except OSError as e:
    out["full"] = e.errno
master, slave = pty.openpty()
out["pty"] = os.ttyname(slave)
os.write(slave, b"ping\n"); out["pty_echo"] = os.read(master, 5).decode()
try:
    os.mknod("/dev/shm/evil", 0o600 | 0o020000, os.makedev(1, 3))
    out["mknod"] = "created"
except OSError as e:
    out["mknod"] = e.errno
out["shm"] = os.statvfs("/dev/shm").f_blocks > 0
print(json.dumps(out))
"""


def test_dev_is_minimal_and_works(warren):
    r = run(warren, "--", "python3", "-c", DEV_PROBE)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    allowed = {"null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm",
               "fd", "stdin", "stdout", "stderr"}
    assert set(got["entries"]) <= allowed, f"unexpected /dev entries: {set(got['entries']) - allowed}"
    assert {"null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm"} <= set(got["entries"])
    # A private devpts instance: no host terminals in it.
    assert got["pts_before"] == ["ptmx"], f"/dev/pts shows host terminals: {got['pts_before']}"
    assert got["zero"] and got["null"] and got["urandom"] == 16 and got["random"] == 16
    assert got["full"] == errno.ENOSPC
    assert got["pty"].startswith("/dev/pts/") and got["pty_echo"].startswith("ping")
    assert got["mknod"] == errno.EPERM, f"mknod of a device: {got['mknod']}"
    assert got["shm"]


MOUNT_PROBE = r"""
import json
mounts = []
for l in open("/proc/self/mountinfo"):
    f = l.split()
    sep = f.index("-")
    mounts.append({"target": f[4], "opts": f[5].split(","), "fstype": f[sep + 1]})
print(json.dumps(mounts))
"""


def test_every_mount_is_nosuid_and_nodev_except_devices(warren):
    r = run(warren, "--", "python3", "-c", MOUNT_PROBE)
    assert r.returncode == 0, r.stderr
    mounts = json.loads(r.stdout)
    device_binds = {f"/dev/{n}" for n in ("null", "zero", "full", "random", "urandom", "tty")} | {"/dev/pts"}
    for m in mounts:
        assert "nosuid" in m["opts"], f"{m['target']} is mounted without nosuid"
        if m["target"] not in device_binds:
            assert "nodev" in m["opts"], f"{m['target']} is mounted without nodev"
    targets = [m["target"] for m in mounts]
    assert not any(t.startswith(("/oldroot", "/newroot")) for t in targets), targets


def test_host_root_is_not_visible(warren):
    # The repository and the host's home directories exist on the host, not in the sandbox.
    r = run(warren, "--", "python3", "-c", "import os, sys; print([p for p in sys.argv[1:] if os.path.exists(p)])",
            os.path.dirname(os.path.abspath(__file__)), "/root", "/home", "/oldroot", "/sys/fs/cgroup", "/run")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]", f"host paths visible in the sandbox: {r.stdout.strip()}"


def test_image_dir_without_usr_is_a_clear_error(warren, tmp_path):
    (tmp_path / "etc").mkdir()
    r = run(warren, "--image", str(tmp_path), "--", "true")
    assert r.returncode == EXIT_SETUP
    assert str(tmp_path) in r.errors and "not a root filesystem" in r.errors, r.stderr


def test_image_that_does_not_exist_is_a_clear_error(warren, tmp_path):
    r = run(warren, "--image", str(tmp_path / "nope"), "--", "true")
    assert r.returncode == EXIT_SETUP
    assert str(tmp_path / "nope") in r.errors, r.stderr


@pytest.fixture
def tiny_image():
    """A root filesystem holding only a static busybox, in a fresh 0700
    directory like `mktemp -d` makes; yields (parent dir, image dir)."""
    busybox = shutil.which("busybox")
    if not busybox or not _is_static(busybox):
        pytest.skip("needs a static busybox (Debian package busybox-static) to build a tiny image")
    parent = tempfile.mkdtemp(prefix="warren-image-")
    try:
        root = os.path.join(parent, "image")
        os.makedirs(os.path.join(root, "usr", "bin"))
        shutil.copy(busybox, os.path.join(root, "usr", "bin", "busybox"))
        os.symlink("usr/bin", os.path.join(root, "bin"))
        os.mkdir(os.path.join(root, "etc"))
        with open(os.path.join(root, "etc", "image-marker"), "w") as f:
            f.write("tiny image\n")
        yield parent, root
    finally:
        shutil.rmtree(parent)


IN_IMAGE = ("/bin/busybox cat /etc/image-marker; /bin/busybox test -e /usr/bin/python3 && echo host-usr; "
            "/bin/busybox touch /usr/x 2>/dev/null && echo usr-writable; /bin/busybox id -u")


def test_image_dir_is_the_root_filesystem(warren, tiny_image):
    parent, root = tiny_image
    os.chmod(parent, 0o755)
    r = run(warren, "--image", root, "--", "/bin/busybox", "sh", "-c", IN_IMAGE)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n") == ["tiny image", "1000", ""], r.stdout


def test_image_dir_inside_a_private_directory_works(warren, tiny_image):
    # `mktemp -d` makes 0700 directories: root built the image there, root runs it.
    parent, root = tiny_image
    assert stat.S_IMODE(os.stat(parent).st_mode) == 0o700
    r = run(warren, "--image", root, "--", "/bin/busybox", "sh", "-c", IN_IMAGE)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n") == ["tiny image", "1000", ""], r.stdout


def _is_static(path):
    # An ELF without a PT_INTERP program header is statically linked.
    with open(path, "rb") as f:
        data = f.read(1 << 16)
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return False
    phoff = int.from_bytes(data[32:40], "little")
    phentsize = int.from_bytes(data[54:56], "little")
    phnum = int.from_bytes(data[56:58], "little")
    for i in range(phnum):
        off = phoff + i * phentsize
        if int.from_bytes(data[off:off + 4], "little") == 3:  # PT_INTERP
            return False
    return True
