"""Templates (issue 12): the part of a sandbox's root shared by every
sandbox of one (image, policy) is built once and each sandbox gets a copy.

What users rely on: a sandbox sees the image and policy as they are now (a
template is rebuilt when either changes), and copies share nothing: a mount
made in one sandbox, or on the host below an image, reaches no other
sandbox and not the template (no mount propagation).
"""

import json
import os
import subprocess

import pytest

from daemon_fixture import Daemon, stop_and_check, wait_for, warrend  # noqa: F401 (fixtures)
from test_filesystem import tiny_image  # noqa: F401 (a fixture)
from warrentest import TEMPLATE_STORE, run

MARK = "warren-propagation-test"


def template_said(r):
    line = [l for l in r.stderr.splitlines() if l.startswith("warren: template")]
    assert len(line) == 1, r.stderr
    return line[0].split(": ", 2)[2]


def mountinfo(path):
    with open(path) as f:
        return f.read()


def template_mounts(ns, store_dir, prefix=()):
    """The mounts of the templates in a store's namespace (it mirrors the
    host's other mounts, as a slave: that is how it sees new images)."""
    out = subprocess.run([*prefix, "nsenter", f"--mount={ns}", "cat", "/proc/self/mountinfo"], capture_output=True,
                         text=True, check=True).stdout
    lines = [l for l in out.splitlines() if l.split()[4].startswith(store_dir + "/")]
    assert lines, f"the check itself: no template in {store_dir}"
    return "\n".join(lines)


def mount_inside(init, target, source=MARK):
    """As the host's root, in the sandbox's own mount namespace."""
    subprocess.run(["nsenter", f"--target={init}", "--mount", "--root", "--", "/bin/busybox", "mount", "-t", "tmpfs",
                    source, target], check=True, capture_output=True)


def children_named(pid, comm):
    out = []
    for name in os.listdir("/proc"):
        try:
            with open(f"/proc/{name}/stat") as f:
                head, rest = f.read().rsplit(")", 1)
        except (OSError, ValueError):
            continue
        if int(rest.split()[1]) == pid and head.split("(", 1)[1] == comm:
            out.append(int(name))
    return out


class Running:
    """`warren run ARGS -- sleep` in the background, and its init."""

    def __init__(self, warren, *args, sleep=("sleep", "120"), prefix=()):
        self.p = subprocess.Popen([*prefix, warren, "run", *args, "--", *sleep], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        found = wait_for(lambda: children_named(self.p.pid, "warren-init"), 20)
        # the command runs once init forked it: its mounts are all made
        self.init = found[0] if found else None
        assert self.init and wait_for(lambda: children_named(self.init, sleep[-2].split("/")[-1]) or
                                      children_named(self.init, "busybox"), 20), self.p.stderr
        self.mountinfo = f"/proc/{self.init}/mountinfo"

    def stop(self):
        self.p.terminate()
        self.p.wait(20)
        self.p.stderr.close()


@pytest.fixture
def image(tiny_image):
    """test_filesystem's tiny image, with an empty directory below usr to
    mount on and a file to change."""
    root = tiny_image[1]
    os.makedirs(os.path.join(root, "usr", "mnt"))
    with open(os.path.join(root, "etc", "generation"), "w") as f:
        f.write("one\n")
    return root


def policy_file(tmp_path, name, **fields):
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"version": 1, "name": name, **fields}))
    return str(path)


# --- warren run: a store kept across runs -----------------------------------------------------


def test_a_template_is_copied_until_its_image_or_policy_changes(warren, image, tmp_path):
    cat = ["--image", image, "--", "/bin/busybox", "cat", "/etc/generation"]
    first = run(warren, *cat)
    assert first.returncode == 0 and first.stdout == "one\n", first.stderr
    again = run(warren, *cat)
    assert again.returncode == 0 and template_said(again) == "copied", again.stderr
    # a new generation of the image's /etc (a directory renamed over it, as
    # image builders switch generations): rebuilt, and the sandbox sees it
    fresh = os.path.join(os.path.dirname(image), "etc.new")
    os.mkdir(fresh)
    with open(os.path.join(fresh, "generation"), "w") as f:
        f.write("two\n")
    os.rename(os.path.join(image, "etc"), os.path.join(os.path.dirname(image), "etc.old"))
    os.rename(fresh, os.path.join(image, "etc"))
    second = run(warren, *cat)
    assert second.returncode == 0 and second.stdout == "two\n", (second.stdout, second.stderr)
    assert template_said(second) == "built, then copied"
    # another policy (a path hidden in the image): a template of its own
    hide = policy_file(tmp_path, "hides-etc", hide=["/etc/generation"])
    hidden = run(warren, "--policy", hide, *cat)
    assert hidden.stdout == "" and "generation" in hidden.errors, (hidden.stdout, hidden.stderr)
    assert template_said(hidden) == "built, then copied"
    assert template_said(run(warren, *cat)) == "copied", "the first policy's template was lost"


@pytest.fixture
def shared_mounts():
    """A mount namespace whose mounts all propagate (shared), as a systemd
    host has them (this test host's are private, where nothing would
    propagate anyway); returns the prefix that runs a command in it. Its
    warren runs build a template store of their own there."""
    holder = subprocess.Popen(["unshare", "--mount", "--propagation", "shared", "sleep", "600"])
    ns = f"/proc/{holder.pid}/ns/mnt"
    assert wait_for(lambda: os.readlink(ns) != os.readlink("/proc/self/ns/mnt"), 10)
    prefix = ["nsenter", f"--mount={ns}", "--"]
    subprocess.run(prefix + ["umount", "-l", TEMPLATE_STORE], capture_output=True)  # if the host has one
    yield prefix
    holder.kill()
    holder.wait()


def run_in(prefix, warren, *args):
    return subprocess.run(prefix + [warren, "run", "-v", *args], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=60)


def sandboxes_of_one_template(warren, image, prefix, n):
    """The template built, then n runs of the image left running."""
    assert run_in(prefix, warren, "--image", image, "--", "/bin/busybox", "true").returncode == 0
    return [Running(warren, "--image", image, sleep=("/bin/busybox", "sleep", "120"), prefix=prefix) for _ in range(n)]


def new_run_sees(prefix, warren, image):
    """The mounts a run started now has."""
    c = run_in(prefix, warren, "--image", image, "--", "/bin/busybox", "cat", "/proc/self/mountinfo")
    assert c.returncode == 0, c.stderr
    return c.stdout


def test_a_mount_in_one_run_reaches_no_other_and_not_the_store(warren, image, shared_mounts):
    a, b = sandboxes_of_one_template(warren, image, shared_mounts, 2)
    try:
        mount_inside(a.init, "/usr/mnt")
        assert MARK in mountinfo(a.mountinfo), "the check itself: the mount is in a"
        assert MARK not in mountinfo(b.mountinfo), "a mount in one sandbox reached another"
        assert MARK not in template_mounts(f"{TEMPLATE_STORE}/ns", TEMPLATE_STORE, shared_mounts), \
            "a mount in a sandbox reached the template"
        assert MARK not in new_run_sees(shared_mounts, warren, image), "a mount in a sandbox reached a later one"
    finally:
        a.stop()
        b.stop()


def test_a_mount_on_the_host_below_an_image_reaches_no_sandbox(warren, image, shared_mounts):
    """The template binds the image's directories: a bind of a shared mount
    joins its propagation, and the host's mounts below it would appear in
    the template and in every copy."""
    a, = sandboxes_of_one_template(warren, image, shared_mounts, 1)
    target = os.path.join(image, "usr", "mnt")
    subprocess.run(shared_mounts + ["mount", "-t", "tmpfs", MARK, target], check=True)
    try:
        assert MARK not in mountinfo(a.mountinfo), "a mount on the host reached a running sandbox"
        assert MARK not in template_mounts(f"{TEMPLATE_STORE}/ns", TEMPLATE_STORE, shared_mounts), \
            "a mount on the host reached the template"
        assert MARK not in new_run_sees(shared_mounts, warren, image), "a mount on the host reached a new sandbox"
    finally:
        subprocess.run(shared_mounts + ["umount", target], check=True)
        a.stop()


# --- warrend: the spawner's templates ------------------------------------------------------------


def spawner_store(d):
    """The spawner's templates namespace (an fd it holds) and its template directories."""
    spawner = children_named(d.proc.pid, "warren-spawner")[0]
    own = os.readlink(f"/proc/{spawner}/ns/mnt")
    for fd in os.listdir(f"/proc/{spawner}/fd"):
        link = os.readlink(f"/proc/{spawner}/fd/{fd}")
        if link.startswith("mnt:") and link != own:
            return f"/proc/{spawner}/fd/{fd}"
    raise AssertionError(f"the spawner {spawner} holds no templates namespace")


@pytest.mark.parametrize("templates", [True, False], ids=["templates", "whole-root"])
def test_sessions_share_no_mount_with_each_other_or_the_template(warrend, image, shared_mounts, tmp_path, templates):
    """And the same when the spawner has no templates (it could not make its
    store: the sandbox builds its whole root, from copies of the image's
    directories made with open_tree)."""
    image_dir = os.path.dirname(os.path.dirname(image))
    name = os.path.basename(os.path.dirname(image))
    os.chmod(os.path.dirname(image), 0o755)
    # an image NAME is <image-dir>/NAME/rootfs or <image-dir>/NAME
    rootfs = os.path.join(os.path.dirname(image), "rootfs")
    os.rename(image, rootfs)
    d = Daemon(warrend, str(tmp_path / "warrend"), ("--pool-size", "0", "--image-dir", image_dir))
    if not templates:
        os.makedirs(d.state_dir)
        open(os.path.join(d.state_dir, "templates"), "w").close()  # no directory to mount the store on
    argv = d.argv
    d.argv = lambda: shared_mounts + argv()  # the daemon in the namespace whose mounts propagate
    d.start()
    try:
        a, b = (d.create(image=name)["id"] for _ in range(2))
        ia, ib = d.init_pid(a), d.init_pid(b)
        store, store_dir = (spawner_store(d), os.path.join(d.state_dir, "templates")) if templates else (None, None)
        assert templates or "no templates" in d.log(), d.log()
        mount_inside(ia, "/usr/mnt")
        assert MARK in mountinfo(f"/proc/{ia}/mountinfo"), "the check itself: the mount is in a"
        assert MARK not in mountinfo(f"/proc/{ib}/mountinfo"), "a mount in one session reached another"
        assert not store or MARK not in template_mounts(store, store_dir), "a mount in a session reached the template"
        c = d.create(image=name)["id"]
        assert MARK not in mountinfo(f"/proc/{d.init_pid(c)}/mountinfo"), "a mount in a session reached a later one"
        # and from the host's side: a mount below the image the template binds
        target = os.path.join(rootfs, "usr", "mnt")
        subprocess.run(shared_mounts + ["mount", "-t", "tmpfs", MARK + "-host", target], check=True)
        try:
            for sid in (b, c):
                assert MARK + "-host" not in mountinfo(f"/proc/{d.init_pid(sid)}/mountinfo"), \
                    f"a host mount reached session {sid}"
            if templates:
                assert MARK + "-host" not in template_mounts(store, store_dir), "a host mount reached the template"
                # (a whole root binds the image recursively when it is made: what is mounted in it then)
                e = d.create(image=name)["id"]
                assert MARK + "-host" not in mountinfo(f"/proc/{d.init_pid(e)}/mountinfo"), \
                    "a host mount reached a later session through the template"
                d.remove(e)
        finally:
            subprocess.run(shared_mounts + ["umount", target], check=True)
        for sid in (a, b, c):
            d.remove(sid)
    finally:
        stop_and_check(d)
