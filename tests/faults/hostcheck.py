"""The end of every fault test: nothing of the daemons remains on the host."""

import os
import time

from warrentest import leftovers


def host_clean(before, *daemons, cgroup_parents=()):
    """Asserts that the (stopped) daemons left nothing on the host: their
    sockets, state files, workspaces, cgroups (also under cgroup_parents,
    absolute directories) and sandbox processes are gone, and no mount was
    added since `before`."""
    for d in daemons:
        assert not d.running, "host_clean() checks stopped daemons"
        d.assert_clean()
        # Workspaces are tmpfs mounts inside each sandbox: the state dir holds
        # nothing but the (empty) sessions directory, the artifacts' signing
        # key (kept across restarts, warrend.conf(5) artifact_key_file) and
        # their directory, empty where the test collected nothing.
        left = set(os.listdir(d.state_dir)) - {"artifact.key"}
        if "artifacts" in left and not os.listdir(os.path.join(d.state_dir, "artifacts")):
            left.discard("artifacts")
        assert left == {"sessions"}, f"left in {d.state_dir}: {sorted(left)}"
        sessions = os.listdir(os.path.join(d.state_dir, "sessions"))
        assert not sessions, f"left in {d.state_dir}/sessions: {sessions}"
    deadline = time.monotonic() + 3  # a sandbox killed a moment ago may still be exiting
    while True:
        procs, mnts, cgroups = leftovers(before)
        cgroups += [os.path.join(p, c) for p in cgroup_parents if os.path.isdir(p)
                    for c in os.listdir(p) if c.startswith("wd-")]
        if not (procs or mnts or cgroups) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not procs, f"sandbox processes left behind: {procs}"
    assert not mnts, f"mounts left behind (id, mount point, type, source): {mnts}"
    assert not cgroups, f"cgroups left behind: {cgroups}"
