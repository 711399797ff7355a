"""Images: warren-rootfs builds them from Debian's packages; `warren run
--image NAME` and warrend sessions run in them.

The `minimal` image (and `python`, for the data-library test) is built once
into $WARREN_TEST_IMAGE_CACHE (default /var/cache/warren-test/images) and
reused while the recipe and warren-rootfs are unchanged (the cache key is the
sha256 of both); downloaded packages are kept there too. A first build takes
minutes here (mmdebstrap unpacks and configures ~70 packages for `minimal`,
~250 for `python`); later runs take seconds.

The tool under test is $WARREN_ROOTFS (default
<repo>/_build/rootfs-builder/warren-rootfs), run with the repository's recipes.
"""

import fcntl
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess

import pytest

from daemon_fixture import assert_error, start_daemon, wait_for, warrend  # noqa: F401 (fixtures)
from warrentest import EXIT_SETUP, REPO

RECIPES = os.path.join(REPO, "rootfs-builder", "images")
CACHE = os.environ.get("WARREN_TEST_IMAGE_CACHE", "/var/cache/warren-test/images")
DEB_CACHE = os.path.join(os.path.dirname(CACHE.rstrip("/")), "debs")
BUILD_TIMEOUT = 3600


def rootfs_tool():
    return os.environ.get("WARREN_ROOTFS") or os.path.join(REPO, "_build", "rootfs-builder", "warren-rootfs")


@pytest.fixture(scope="session")
def tool():
    path = rootfs_tool()
    if os.geteuid() != 0:
        pytest.skip("needs root: warren-rootfs builds root-owned trees, warren run creates cgroups")
    if not os.access(path, os.X_OK):
        pytest.skip(f"no warren-rootfs at {path} (build it or set WARREN_ROOTFS)")
    if not shutil.which("mmdebstrap"):
        pytest.skip("mmdebstrap is not installed (scripts/install-deps installs it)")
    return path


def run_tool(tool, *args, timeout=BUILD_TIMEOUT, env=None, **kw):
    argv = [tool, *args]
    if "--recipe" not in args:
        argv.append(f"--recipe-dir={RECIPES}")
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env=env, **kw)


def cache_key(tool, recipe):
    h = hashlib.sha256()
    for path in (recipe, tool):
        with open(path, "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


def cached_image(tool, name):
    """Builds NAME into CACHE/NAME-<key> unless it is there already; returns
    (image dir, the build's output or the cached one). Test runs sharing the
    cache (other checkouts, other builds of the tool) take turns: one builds
    while the others wait, and none removes an image another is building."""
    recipe = os.path.join(RECIPES, f"{name}.conf")
    image_dir = os.path.join(CACHE, f"{name}-{cache_key(tool, recipe)}")
    log = os.path.join(image_dir, "build.log")
    os.makedirs(CACHE, exist_ok=True)
    with open(os.path.join(CACHE, f".{name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(log):
            for stale in glob.glob(os.path.join(CACHE, f"{name}-*")):
                shutil.rmtree(stale, ignore_errors=True)
            os.makedirs(image_dir)
            r = run_tool(tool, "build", name, f"--image-dir={image_dir}", f"--deb-cache={DEB_CACHE}")
            assert r.returncode == 0, f"building {name} failed:\n{r.stdout}\n{r.stderr}"
            with open(log, "w") as f:
                f.write(r.stdout)
        with open(log) as f:
            return image_dir, f.read()


@pytest.fixture(scope="session")
def minimal(tool):
    return cached_image(tool, "minimal")


def manifest(image_dir, name):
    with open(os.path.join(image_dir, name, "image.json")) as f:
        return json.load(f)


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def dir_entries(path):
    """What is left in an image directory, lock files aside."""
    return sorted(e for e in os.listdir(path) if not e.endswith("@lock")) if os.path.isdir(path) else []


def warren_in(warren, image_dir, *args, timeout=60):
    env = dict(os.environ, WARREN_IMAGE_DIR=image_dir)
    return subprocess.run([warren, "run", *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, env=env)


# --- the build and the manifest ------------------------------------------------------


def test_build_ends_with_path_size_and_package_count(minimal):
    image_dir, out = minimal
    last = out.strip().splitlines()[-1]
    m = re.search(r"built (\S+): ([\d.]+[KMG]iB), (\d+) packages, sha256:[0-9a-f]{12}", last)
    assert m, f"last line of the build: {last!r}"
    assert m.group(1) == os.path.join(image_dir, "minimal", "rootfs")
    assert int(m.group(3)) == len(manifest(image_dir, "minimal")["packages"])
    assert "downloading packages" in out and "computing the content digest" in out, out


def test_manifest_names_every_package_with_its_version(minimal, tool):
    image_dir, _ = minimal
    m = manifest(image_dir, "minimal")
    for key in ("name", "description", "suite", "variant", "built", "build_seconds", "builder", "digest", "size",
                "recipe_digest", "requested", "packages"):
        assert key in m, (key, m)
    assert m["name"] == "minimal" and m["suite"] == "bookworm"
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", m["digest"]), m["digest"]
    assert m["recipe_digest"] == "sha256:" + sha256_file(os.path.join(RECIPES, "minimal.conf"))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", m["built"]), m["built"]
    # What dpkg says is installed in the image, version for version.
    dpkg = subprocess.run(["dpkg-query", f"--admindir={image_dir}/minimal/rootfs/var/lib/dpkg", "-W",
                           "-f", "${db:Status-Abbrev} ${Package} ${Version}\n"],
                          capture_output=True, text=True, check=True).stdout
    installed = {l.split()[1]: l.split()[2] for l in dpkg.splitlines() if l.startswith("ii")}
    assert m["packages"] == installed
    assert {"bash", "coreutils", "base-files", "dash"} <= set(installed)
    du = int(subprocess.run(["du", "-s", "--block-size=1", f"{image_dir}/minimal/rootfs"], capture_output=True,
                            text=True, check=True).stdout.split()[0])
    assert abs(m["size"] - du) < 0.05 * du, (m["size"], du)


def test_image_has_the_sandbox_user_and_no_set_id_bits(minimal):
    image_dir, _ = minimal
    root = os.path.join(image_dir, "minimal", "rootfs")
    with open(f"{root}/etc/passwd") as f:
        assert "sandbox:x:1000:1000:sandbox:/workspace:/bin/bash\n" in f.read()
    with open(f"{root}/etc/group") as f:
        assert "sandbox:x:1000:\n" in f.read()
    assert os.path.isdir(f"{root}/workspace") and os.path.isdir(f"{root}/tmp")
    assert os.path.exists(f"{root}/etc/os-release")
    setid = subprocess.run(["find", root, "-xdev", "-perm", "/6000"], capture_output=True, text=True).stdout
    assert setid == "", f"set-id files in the image: {setid}"
    st = os.stat(root)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (0, 0, 0o755)
    # The generation directory above it must be traversable for the binds.
    assert os.stat(os.path.dirname(os.path.realpath(root))).st_mode & 0o755 == 0o755
    with open(f"{root}/etc/resolv.conf") as f:
        assert f.read() == "", "the build host's resolver configuration leaked into the image"


def test_list_and_show(minimal, tool):
    image_dir, _ = minimal
    r = run_tool(tool, "list", f"--image-dir={image_dir}")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NAME", "SIZE", "BUILT", "PACKAGES", "DIGEST"]
    assert lines[1].split()[0] == "host"
    m = manifest(image_dir, "minimal")
    row = next(l.split() for l in lines if l.split()[0] == "minimal")
    assert row[2] == m["built"] and int(row[3]) == len(m["packages"]) and m["digest"].startswith(row[4])
    r = run_tool(tool, "show", "minimal", f"--image-dir={image_dir}")
    assert r.returncode == 0 and json.loads(r.stdout) == m, r.stderr


# --- using it ----------------------------------------------------------------------------


def test_warren_run_by_image_name(minimal, warren):
    image_dir, _ = minimal
    r = warren_in(warren, image_dir, "--image", "minimal", "--", "sh", "-c",
                  ". /etc/os-release; echo $VERSION_CODENAME; id -un; command -v python3 || echo no-python3;"
                  "touch /usr/x || echo read-only; echo ok > /workspace/f && cat /workspace/f")
    assert r.returncode == 0, r.stderr
    # The host has python3; the minimal image does not: the sandbox runs in the image.
    assert r.stdout.split() == ["bookworm", "sandbox", "no-python3", "read-only", "ok"], r.stdout + r.stderr


def test_warren_run_by_path_still_works(minimal, warren):
    image_dir, _ = minimal
    r = warren_in(warren, image_dir, "--image", os.path.join(image_dir, "minimal", "rootfs"), "--",
                  "sh", "-c", "command -v python3 || echo no-python3")
    assert (r.returncode, r.stdout) == (0, "no-python3\n"), r.stderr


def test_warren_run_unknown_image_lists_the_available_ones(minimal, warren):
    image_dir, _ = minimal
    r = warren_in(warren, image_dir, "--image", "nope", "--", "true")
    assert r.returncode == EXIT_SETUP
    assert r.stderr.startswith('warren: unknown image "nope" (available: host, minimal)'), r.stderr


def test_daemon_lists_images_and_runs_sessions_in_them(minimal, start_daemon):
    image_dir, _ = minimal
    m = manifest(image_dir, "minimal")
    d = start_daemon("--image-dir", image_dir)
    r = d.get("/v1/images")
    assert r.status_code == 200, r.text
    images = {i["name"]: i for i in r.json()["images"]}
    assert list(images) == ["host", "minimal"], images
    assert images["host"]["builtin"] is True
    mi = images["minimal"]
    assert (mi["digest"], mi["size"], mi["built"], mi["packages"]) == \
        (m["digest"], m["size"], m["built"], len(m["packages"]))

    s = d.create(image="minimal")
    assert s["image"] == "minimal"
    res = d.exec(s["id"], shell="command -v python3 || echo no-python3; id -un")
    assert res["stdout"] == "no-python3\nsandbox\n", res
    d.remove(s["id"])
    assert_error(d.post("/v1/sessions", {"image": "nope"}), 400, "bad_request",
                 'unknown image "nope" (available: host, minimal)')


def test_rm_keeps_what_a_running_sandbox_binds(minimal, tool, warren, tmp_path):
    """A removed (or replaced) image stays intact under a running sandbox and
    is deleted by gc once that sandbox is gone."""
    image_dir, _ = minimal
    gen = os.path.realpath(os.path.join(image_dir, "minimal"))
    mine = tmp_path / "images"
    mine.mkdir()
    subprocess.run(["cp", "-a", gen, str(mine / ".mini@copy01")], check=True)
    os.symlink(".mini@copy01", mine / "mini")
    env = dict(os.environ, WARREN_IMAGE_DIR=str(mine))
    p = subprocess.Popen([warren, "run", "--image", "mini", "--", "sh", "-c",
                          "echo started; sleep 3; . /etc/os-release; echo $VERSION_CODENAME; ls /usr/bin | wc -l"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert p.stdout.readline() == "started\n"
    r = run_tool(tool, "rm", "mini", f"--image-dir={mine}")
    assert r.returncode == 0, r.stderr
    assert "keeping" in r.stdout and ".mini@copy01" in r.stdout, r.stdout
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    codename, n_bin = out.split()
    assert codename == "bookworm" and int(n_bin) > 50, out
    r = run_tool(tool, "gc", f"--image-dir={mine}")
    assert r.returncode == 0, r.stderr
    assert dir_entries(str(mine)) == [], dir_entries(str(mine))


# --- bad input: a clear error, nothing left behind -------------------------------------------


def test_unknown_recipe(tool, tmp_path):
    r = run_tool(tool, "build", "nope", f"--image-dir={tmp_path}/img")
    assert r.returncode == 1
    assert 'unknown recipe "nope" (available: minimal, node, python' in r.stderr, r.stderr
    assert dir_entries(f"{tmp_path}/img") == []


def test_usage_errors_exit_125_and_version(tool, tmp_path):
    # 125 as warren's own usage errors: never mistaken for a failed build (1)
    for args in [(), ("--nope",), ("build",), ("list", "extra"), ("frobnicate",), ("--min-free=lots", "gc")]:
        r = run_tool(tool, *args, f"--image-dir={tmp_path}/img")
        assert r.returncode == 125, (args, r.returncode, r.stderr)
        assert r.stderr.strip(), args
    r = subprocess.run([tool, "list", "--image-dir"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 125 and "--image-dir needs a directory" in r.stderr, r.stderr
    assert not os.path.exists(f"{tmp_path}/img")
    for flag in ("-V", "--version"):
        r = run_tool(tool, flag)
        assert r.returncode == 0 and re.match(r"^warren-rootfs \S+\n$", r.stdout), (flag, r.stdout, r.stderr)


def test_recipe_error_names_file_and_line(tool, tmp_path):
    recipe = tmp_path / "bad.conf"
    recipe.write_text("suite = bookworm\npakages = bash\n")
    r = run_tool(tool, "build", "bad", f"--recipe={recipe}", f"--image-dir={tmp_path}/img")
    assert r.returncode == 1
    assert f"recipe {recipe}:2: unknown key 'pakages'" in r.stderr, r.stderr


def test_missing_mmdebstrap_is_named(tool, tmp_path):
    # A PATH with every tool of this host except mmdebstrap.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for d in ("/usr/sbin", "/usr/bin"):
        for name in os.listdir(d):
            if name != "mmdebstrap" and not (bin_dir / name).exists():
                os.symlink(os.path.join(d, name), bin_dir / name)
    env = dict(os.environ, PATH=str(bin_dir))
    r = run_tool(tool, "build", "minimal", f"--image-dir={tmp_path}/img", env=env)
    assert r.returncode == 1
    assert "mmdebstrap is not installed" in r.stderr and "apt-get install mmdebstrap" in r.stderr, r.stderr
    assert dir_entries(f"{tmp_path}/img") == []


def test_package_that_does_not_exist_leaves_nothing(tool, tmp_path):
    recipe = tmp_path / "ghost.conf"
    recipe.write_text("packages = bash warren-no-such-package\n")
    img = tmp_path / "img"
    r = run_tool(tool, "build", "ghost", f"--recipe={recipe}", f"--image-dir={img}", f"--deb-cache={DEB_CACHE}")
    assert r.returncode == 1
    assert "no such package in bookworm: warren-no-such-package" in r.stderr, r.stderr
    assert dir_entries(str(img)) == [], dir_entries(str(img))


def test_too_little_space_is_refused_and_running_out_leaves_nothing(tool, tmp_path):
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(small)], check=True)
    try:
        r = run_tool(tool, "build", "minimal", f"--image-dir={small}")
        assert r.returncode == 1
        assert re.search(r"only [\d.]+MiB free in .*, need at least 1.0GiB", r.stderr), r.stderr
        assert dir_entries(str(small)) == []
        # Past the check, the disk fills up during the build.
        r = run_tool(tool, "build", "minimal", f"--image-dir={small}", "--min-free=0", f"--deb-cache={DEB_CACHE}")
        assert r.returncode == 1
        assert "no space left on device" in r.stderr, r.stderr
        assert dir_entries(str(small)) == [], dir_entries(str(small))
    finally:
        subprocess.run(["umount", str(small)], check=True)


def test_interrupted_build_leaves_nothing(tool, tmp_path):
    img = tmp_path / "img"
    p = subprocess.Popen([tool, "build", "minimal", f"--image-dir={img}", f"--recipe-dir={RECIPES}",
                          f"--deb-cache={DEB_CACHE}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in p.stdout:
            if "downloading packages" in line or "extracting archives" in line:
                break
        else:
            pytest.fail(f"the build ended before it got going: {p.stderr.read()}")
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130 and "interrupted: removing the partial build" in err, (p.returncode, err)
    assert dir_entries(str(img)) == [], dir_entries(str(img))
    # mmdebstrap and its dpkg are gone too (they may take a moment to exit).
    def build_processes():
        return subprocess.run(["pgrep", "-f", f"{img}/"], capture_output=True, text=True).stdout.split()
    assert wait_for(lambda: not build_processes(), 10), f"processes of the build left: {build_processes()}"


# --- python (slow the first time: ~250 packages) ---------------------------------------------


def test_python_image_has_the_data_libraries(tool, warren):
    image_dir, _ = cached_image(tool, "python")
    r = warren_in(warren, image_dir, "--image", "python", "--memory", "512M", "--", "python3", "-c",
                  "import numpy, pandas, openpyxl, matplotlib, requests;"
                  "print(pandas.DataFrame({'a': numpy.arange(4)}).a.sum(), pandas.__version__)", timeout=120)
    assert r.returncode == 0, r.stderr
    total, version = r.stdout.split()
    assert total == "6" and version == manifest(image_dir, "python")["packages"]["python3-pandas"].split("+")[0]
