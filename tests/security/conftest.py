"""Fixtures of the security battery (tests/security).

Every attempt runs inside a sandbox, never on the host: through `warren run`
($WARREN, default <repo>/_build/warren) and through an exec in a session of a
real warrend ($WARREND, default <repo>/_build/warrend) started as root for
each test module. Without root or the binaries the tests are skipped with a
visible reason; WARREN_MUST_RUN=1 (CI) turns every skip into a failure.

After every test the host is checked: canary files outside any sandbox were
neither read (atime), written nor joined by new files; the host's hostname,
/etc/passwd, /usr/bin/env and the warren binaries are unchanged; the daemon
still answers. After every module (daemon stopped): no sandbox process,
mount or cgroup is left. The run ends with the battery's summary line.
"""

import importlib.util
import os
import secrets
import socket
import tempfile
import time

import pytest

from battery import (CONTROL, ESCAPES, STATS, UNEXPECTED, Daemon, DaemonBackend, RunBackend, compile_attack,
                     copy_policies, host_check, sha256, warrend_path)
from warrentest import BACKENDS, backend_leftovers, backend_unavailable, leftovers, snapshot, warren_path


# The integration suite's hook: skips are failures under WARREN_MUST_RUN=1.
_spec = importlib.util.spec_from_file_location(
    "integration_conftest", os.path.join(os.path.dirname(__file__), "..", "integration", "conftest.py"))
_integration = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_integration)
pytest_runtest_makereport = _integration.pytest_runtest_makereport
# @pytest.mark.backends("native", …, why="…") deselects a backend_daemon test's other backends.
pytest_configure = _integration.pytest_configure
pytest_collection_modifyitems = _integration.pytest_collection_modifyitems


def pytest_report_header(config):
    return [f"security battery: warren {warren_path()}, warrend {warrend_path()}"]


def pytest_terminal_summary(terminalreporter):
    tr = terminalreporter
    for backend, name, lines in ESCAPES:
        tr.write_line(f"SECURITY ESCAPE [{backend}] {name}: " + " | ".join(lines), red=True)
    for backend, name, lines in UNEXPECTED:
        tr.write_line(f"SECURITY UNEXPECTED [{backend}] {name}: " + " | ".join(lines), red=True)
    if CONTROL["attempts"]:
        tr.write_line(f"SECURITY CONTROL: {CONTROL['attempts']} attempts outside any sandbox, {CONTROL['works']} tries "
                      f"worked, {CONTROL['uncontrolled']} uncontrolled, {CONTROL['broken']} broken",
                      red=CONTROL["broken"] > 0)
    tr.write_line(f"SECURITY: {STATS['attempts']} attempts, {STATS['blocked']} blocked, "
                  f"{STATS['host_checks']} host checks",
                  bold=True, green=STATS["attempts"] == STATS["blocked"], red=STATS["attempts"] != STATS["blocked"])


# --- binaries -----------------------------------------------------------------------


def _need_root():
    if os.geteuid() != 0:
        pytest.skip("needs root: sandboxes get cgroups and per-sandbox host uid ranges")


def _binary(path, what):
    _need_root()
    if not os.access(path, os.X_OK):
        pytest.skip(f"no {what} binary at {path} (build it or set {what.upper()})")
    return path


@pytest.fixture(scope="session")
def warren():
    return _binary(warren_path(), "warren")


@pytest.fixture(scope="session")
def warrend_bin():
    return _binary(warrend_path(), "warrend")


@pytest.fixture(scope="session")
def attack_dir():
    """A root-owned 0755 directory holding the compiled attacker."""
    _need_root()
    d = tempfile.mkdtemp(prefix="warren-sec-attack-")
    os.chmod(d, 0o755)
    compile_attack(d)
    return d


@pytest.fixture(scope="session")
def attack_path(attack_dir):
    return os.path.join(attack_dir, "attack")


@pytest.fixture(scope="session")
def policy_dir():
    d = tempfile.mkdtemp(prefix="warren-sec-policy-")
    copy_policies(d)
    return d


@pytest.fixture(scope="session")
def battery_policy(policy_dir):
    return os.path.join(policy_dir, "battery.json")


@pytest.fixture(scope="module")
def daemon(warrend_bin, policy_dir, tmp_path_factory):
    d = Daemon(warrend_bin, str(tmp_path_factory.mktemp("warrend")), policy_dir)
    RUNNING_DAEMONS.append(d)
    yield d
    stop_daemon(d)


# A module that must hold on every warrend backend (the files API's path
# safety) overrides `daemon` with this one: its tests run once per backend.
@pytest.fixture(scope="module", params=BACKENDS)
def backend_daemon(warrend_bin, policy_dir, tmp_path_factory, request):
    why = backend_unavailable(request.param)
    if why:
        pytest.skip(f"backend {request.param}: {why}")
    d = Daemon(warrend_bin, str(tmp_path_factory.mktemp(f"warrend-{request.param}")), policy_dir,
               backend=request.param)
    RUNNING_DAEMONS.append(d)
    yield d
    pid = d.proc.pid
    stop_daemon(d)
    left = backend_leftovers(d.backend, d.state_dir, pid)
    host_check(not left, f"the {d.backend} backend left: {left}")


RUNNING_DAEMONS = []


def stop_daemon(d):
    """Once per daemon: it must have lived through the module and drain."""
    if d not in RUNNING_DAEMONS:
        return
    RUNNING_DAEMONS.remove(d)
    code = d.proc.poll()
    log = d.output()[-2000:]
    d.stop()
    host_check(code is None, f"warrend died during the module (status {code}): {log}")


@pytest.fixture(params=["run", "daemon"])
def sandbox(request, attack_dir, attack_path):
    """The attacker's way into a sandbox: `warren run` or a daemon session."""
    if request.param == "run":
        return RunBackend(request.getfixturevalue("warren"), attack_dir)
    return DaemonBackend(request.getfixturevalue("daemon"), attack_path)


# --- host checks ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def canary():
    """Host files no sandbox may read or write. Their atime is set before
    their mtime, so any read moves it (relatime) and is caught."""
    d = tempfile.mkdtemp(prefix="warren-sec-canary-", dir="/var/tmp")
    os.chmod(d, 0o755)
    files = {}
    for name in ("canary", "secret.txt"):
        path = os.path.join(d, name)
        content = f"warren-canary-{secrets.token_hex(16)}\n"
        with open(path, "w") as f:
            f.write(content)
        os.chmod(path, 0o644)
        now = time.time()
        os.utime(path, (now - 86400, now))
        files[path] = content
    return d, files


def _watched_files():
    paths = ["/etc/passwd", "/etc/shadow", "/usr/bin/env", "/bin/sh", "/usr/bin/sleep"]
    for p in (warren_path(), warrend_path()):
        if os.path.exists(p):
            paths.append(p)
    return paths


def _host_facts(canary):
    d, files = canary
    facts = {"hostname": socket.gethostname(), "canary_dir": sorted(os.listdir(d))}
    for path in files:
        st = os.stat(path)
        with open(path) as f:
            facts[path] = (f.read(), st.st_mtime_ns, st.st_atime_ns, st.st_mode, st.st_uid)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # our own read must not count
    for path in _watched_files():
        st = os.stat(path)
        facts[path] = (sha256(path), st.st_mtime_ns, st.st_mode, st.st_uid, st.st_nlink)
    return facts


@pytest.fixture(autouse=True)
def host_unharmed(request, canary):
    before = _host_facts(canary)
    yield
    after = _host_facts(canary)
    for key, value in before.items():
        host_check(after.get(key) == value, f"{key} changed: {value!r} -> {after.get(key)!r}")
    if "daemon" in request.fixturenames:
        d = request.getfixturevalue("daemon")
        host_check(d.alive(), f"warrend no longer answers: {d.output()[-2000:]}")


@pytest.fixture(scope="session")
def host_state_before():
    return snapshot()


@pytest.fixture(scope="module", autouse=True)
def nothing_left_behind(host_state_before, request):
    yield
    if os.geteuid() != 0:
        return
    for d in list(RUNNING_DAEMONS):  # its sandboxes end with it: stop it first
        stop_daemon(d)
    deadline = time.monotonic() + 5
    while True:
        procs, mnts, cgroups = leftovers(host_state_before)
        if not (procs or mnts or cgroups) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    host_check(not procs, f"{request.module.__name__} left sandbox processes: {procs}")
    host_check(not mnts, f"{request.module.__name__} left mounts: {mnts}")
    host_check(not cgroups, f"{request.module.__name__} left cgroups: {cgroups}")
