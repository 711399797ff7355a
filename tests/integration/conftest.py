"""Shared fixtures for the integration tests of `warren run`.

The tests run the real binary ($WARREN, default <repo>/_build/warren) as root
and check the isolation contract from inside the sandbox. Tests that cannot run
(not root, no binary) are skipped with a visible reason; with WARREN_MUST_RUN=1
(set by CI) every skip is turned into a failure.

After each test module the host is compared with its state at the start of the
session: no sandbox process (host uid in the per-sandbox ranges), no new mount
and no warren cgroup may be left behind.
"""

import os
import time

import pytest

from warrentest import MUST_RUN, leftovers, snapshot, warren_path

# --- skips are failures under WARREN_MUST_RUN=1 -------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if MUST_RUN and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"WARREN_MUST_RUN=1 but the test was skipped: {reason}"


def pytest_configure(config):
    config.addinivalue_line("markers", "backends(*names, why): the test holds only on these warrend backends")
    config.addinivalue_line("markers", "not_under_sanitizers(why): a figure an ASan build changes (deselected "
                                       "where WARREN_SANITIZERS=1, as scripts/ci-sanitizers sets)")


def pytest_collection_modifyitems(config, items):
    from daemon_fixture import deselect_other_backends
    deselect_other_backends(config, items)


def pytest_report_header(config):
    return [f"warren binary: {warren_path()} (WARREN_MUST_RUN={'1' if MUST_RUN else 'unset'})"]


@pytest.fixture(scope="session")
def warren():
    """Absolute path of the binary under test; skips (visibly) without root."""
    path = warren_path()
    if not os.path.isabs(path):
        pytest.fail(f"WARREN must be an absolute path, got {path!r}")
    if os.geteuid() != 0:
        pytest.skip("needs root: warren run creates cgroups and per-sandbox host uid ranges")
    if not os.access(path, os.X_OK):
        pytest.skip(f"no warren binary at {path} (build it or set WARREN)")
    return path


@pytest.fixture(scope="session", autouse=True)
def host_state_before():
    return snapshot()


@pytest.fixture(scope="module", autouse=True)
def nothing_left_behind(host_state_before, request):
    yield
    if os.geteuid() != 0:
        return
    # A sandbox killed a moment ago may still be exiting: allow it a short while.
    deadline = time.monotonic() + 3
    while True:
        procs, mnts, cgroups = leftovers(host_state_before)
        if not (procs or mnts or cgroups) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    problems = [f"sandbox processes: {procs}"] if procs else []
    problems += [f"mounts (id, mount point, type, source): {mnts}"] if mnts else []
    problems += [f"warren cgroups: {cgroups}"] if cgroups else []
    assert not problems, f"{request.module.__name__} left behind on the host: " + "; ".join(problems)


@pytest.fixture
def workspace(tmp_path):
    """A host directory for --workspace, owned by the caller (root)."""
    d = tmp_path / "ws"
    d.mkdir()
    return d
