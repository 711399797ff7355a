"""Fixtures of the fault tests (tests/faults): a real warrend ($WARREND,
default <repo>/_build/warrend) meets the faults of a production host (the
daemon SIGKILLed mid-exec, SIGTERM under load, no memory for new cgroups,
clients that go away, a stopped sandbox init).

The daemon fixtures and host checks are the integration suite's
(tests/integration/daemon_fixture.py, warrentest.py), imported by path. Tests
that cannot run (not root, no binary) are skipped visibly; WARREN_MUST_RUN=1
(CI) turns every skip into a failure. Each test ends with hostcheck.host_clean(): no
sandbox process, mount, cgroup, state file or workspace remains.
"""

import importlib.util
import os
import sys

import pytest

INTEGRATION = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration")
sys.path.insert(0, INTEGRATION)

from warrentest import snapshot  # noqa: E402 (needs the path above)

# The integration suite's conftest: its skip-is-failure hook and its
# module-level host check (nothing_left_behind, used by daemon_fixture).
_spec = importlib.util.spec_from_file_location("integration_conftest", os.path.join(INTEGRATION, "conftest.py"))
_integration = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_integration)
pytest_runtest_makereport = _integration.pytest_runtest_makereport
pytest_configure = _integration.pytest_configure  # its markers, for the modules imported from there
host_state_before = _integration.host_state_before
nothing_left_behind = _integration.nothing_left_behind


@pytest.fixture
def host_before():
    """The host's sandbox processes, mounts and warren cgroups before the test."""
    return snapshot()
