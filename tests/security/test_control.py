"""The control run: every attempt of attack.c as root OUTSIDE any sandbox,
where each of its tries must work. A try that fails there too has broken
arguments (an always-EINVAL call, an unmapped address, a device that does
not exist), and its "blocked" inside a sandbox proved nothing.

It runs in the throwaway qemu guest of tests/vm (Debian's cloud kernel, a
busybox initramfs; tests/vm/attack-control.sh), never on the host: there
the control loads and unloads a kernel module, unloads kexec images, sets
reboot's Ctrl-Alt-Del mode and writes sysrq, and mounts over /usr. One boot
(about 20 s) runs them all.

Also the battery's self-tests: a deliberately broken try is flagged by the
control run, and a try refused with another errno than promised is
UNEXPECTED in a sandbox, not "blocked".
"""

import os
import re
import subprocess
import tempfile
from collections import defaultdict

import pytest

from battery import CONTROL, HERE, RunBackend, compile_attack
from warrentest import REPO, warren_path

# Attempts with no control run, and why. Every other subcommand of
# attack.c must run in tests/vm/attack-control.sh.
NOT_CONTROLLED = {
    "forkbomb": "exhaustion: judged against the sandbox's limits (test_exhaustion.py), not tries that work or fail",
    "membomb": "exhaustion: judged against the sandbox's memory limit",
    "fill": "exhaustion: judged against the sandbox's tmpfs sizes",
    "zombies": "exhaustion: judged by whether init reaps",
    "spin": "exhaustion: reports CPU time against cpu.max",
    "ignore_term": "exhaustion: judged by the timeout's kill",
    "vsock": "needs a vsock transport, and the guest loads none: socket(AF_VSOCK) is EAFNOSUPPORT there for "
             "anyone (test_socket_families.py shows a policy that lists a family gets past the filter)",
    "socket_families": "most of its families need modules the guest does not load (alg, bluetooth, xdp, tipc, "
                       "can); its positive controls (unix, inet, inet6, netlink route) run in every sandbox",
    "unlisted_syscalls": "calls above the guest kernel's newest are ENOSYS there for anyone, and "
                         "process_madvise on one's own memory needs Linux 6.13",
    "listen": "not an attempt: the control run's listeners",
    "egress": "its targets are the egress lab's (tests/integration/netlab.py), which exists on the host only, "
              "and its gateway an egress sandbox's; its positive controls (an allowed address and name connect) "
              "run in the same egress sandboxes in test_network.py and tests/integration/test_egress.py",
    "selftest": "not an attempt: the battery's own test (test_control_flags_a_broken_try)",
}


def dispatched_attempts():
    """The subcommand names of attack.c's dispatch table."""
    with open(os.path.join(HERE, "attack.c")) as f:
        src = f.read()
    table = src[src.index("attempts[] = {"):]
    table = table[:table.index("};")]
    return re.findall(r'\{ "([a-z_0-9]+)",', table)


CONTROLLED = [name for name in dispatched_attempts() if name not in NOT_CONTROLLED]


class ControlRun:
    def __init__(self, status, console, output):
        self.status = status
        self.console = console
        self.output = output
        self.sections = defaultdict(list)
        for line in console.splitlines():
            m = re.match(r"^\[([a-z_0-9]+)\] (.*)$", line)
            if m:
                self.sections[m.group(1)].append(m.group(2))

    def report(self, name):
        return f"[{name}] in the control run:\n" + "\n".join(self.sections.get(name, [])) + \
               f"\nrun-cgroup-v2 exit {self.status}; its output ends:\n{self.output[-1500:]}"


@pytest.fixture(scope="module")
def control_run():
    if os.geteuid() != 0:
        pytest.skip("needs root: the control run boots a qemu guest (tests/vm/run-cgroup-v2)")
    work = tempfile.mkdtemp(prefix="warren-sec-control-")
    try:
        attack = compile_attack(work, static=True)
        log = os.path.join(work, "console.log")
        env = dict(os.environ, WARREN_VM_TESTS=os.path.join(REPO, "tests", "vm", "attack-control.sh"),
                   WARREN_VM_FILES=attack, WARREN_VM_LOG=log, WARREN_VM_TIMEOUT="180")
        # 900 s: the first run on a machine downloads the guest's kernel.
        p = subprocess.run([os.path.join(REPO, "tests", "vm", "run-cgroup-v2"), warren_path()], env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900)
        if p.returncode == 77:
            pytest.skip(f"the qemu guest cannot run here: {p.stdout.strip()}")
        console = open(log, errors="replace").read() if os.path.exists(log) else ""
        return ControlRun(p.returncode, console, p.stdout + p.stderr)
    finally:
        subprocess.run(["rm", "-rf", work], check=False)


def test_the_control_run_ran_whole(control_run):
    run = control_run
    assert re.search(r"^# completed: \d+ checks$", run.console, re.M), \
        f"the guest script did not finish (run-cgroup-v2 exit {run.status}):\n{run.output[-3000:]}"
    assert re.search(r"^VMTEST: \d+ passed, 0 failed$", run.console, re.M), \
        "a control failed: " + "; ".join(re.findall(r"^not ok .*$", run.console, re.M))


@pytest.mark.parametrize("name", CONTROLLED)
def test_control(control_run, name):
    """Every try of the attempt works as root outside any sandbox (or says
    why it cannot work for anyone)."""
    lines = control_run.sections.get(name)
    assert lines, f"attack {name} has no control run: add it to tests/vm/attack-control.sh, or to " \
                  f"NOT_CONTROLLED with the reason\n" + control_run.report(name)
    CONTROL["attempts"] += 1
    works = [l for l in lines if l.startswith("works: ")]
    broken = [l for l in lines if l.startswith("BROKEN: ")]
    CONTROL["works"] += len(works)
    CONTROL["broken"] += len(broken)
    CONTROL["uncontrolled"] += len([l for l in lines if l.startswith("uncontrolled: ")])
    assert not broken, "tries that fail outside any sandbox too (their arguments are broken):\n" + \
                       control_run.report(name)
    assert works and any(l.startswith("RESULT: CONTROL OK") for l in lines), control_run.report(name)


def test_control_flags_a_broken_try(control_run):
    """The old mount_setattr try (no struct: EINVAL for anyone), kept in
    attack selftest, is what the control run exists to catch."""
    lines = control_run.sections.get("selftest", [])
    assert "BROKEN: mount_setattr(/usr, NULL, 0) [broken on purpose]: EINVAL, outside any sandbox too" in lines, \
        control_run.report("selftest")
    assert any(l.startswith("RESULT: CONTROL BROKEN") for l in lines), control_run.report("selftest")


def test_a_wrong_errno_is_unexpected_not_blocked(warren, attack_dir):
    """In a sandbox the same broken try looks blocked (seccomp answers
    before the arguments are read): only the control run catches it. A try
    refused with another errno than the one it expects is UNEXPECTED, and
    fails its test (Outcome.assert_blocked goes by this verdict)."""
    out = RunBackend(warren, attack_dir).attack("selftest")
    assert "blocked: mount_setattr(/usr, NULL, 0) [broken on purpose]: EPERM (seccomp)" in out.stdout, out.stdout
    assert out.unexpected() == [
        "UNEXPECTED: mkdir /usr/warren-sec-selftest [the wrong errno on purpose]: EROFS, expected EPERM "
        "(deliberately wrong: EROFS)"], out.stdout
    assert "RESULT: UNEXPECTED" in out.stdout and out.exit_code == 43, out.stdout
    assert out.verdict() == "unexpected"
