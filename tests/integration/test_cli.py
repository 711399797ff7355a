"""The command line: bad flags and bad policies give a clear error naming what
is wrong (exit 125, nothing started), `warren policy check` prints the
effective policy and names the JSON path of a bad field, and --help works."""

import json
import os
import subprocess

import pytest

from warrentest import EXIT_SETUP, REPO, run


@pytest.mark.parametrize("args,named", [
    (["--bogus"], "--bogus"),
    (["--memory", "lots"], "--memory"),
    (["--memory", "0"], "--memory"),
    (["--pids", "-3"], "--pids"),
    (["--pids", "many"], "--pids"),
    (["--cpus", "fast"], "--cpus"),
    (["--timeout", "soon"], "--timeout"),
    (["--timeout", "0s"], "--timeout"),
    (["--workspace-size", "big"], "--workspace-size"),
    (["--tmp-size", "-1M"], "--tmp-size"),
    (["--net", "bridge"], "--net"),
    (["--env", ""], "--env"),
    (["--env", "=x"], "--env"),
    (["--cwd", "relative/dir"], "--cwd"),
    (["--hostname", "bad name!"], "--hostname"),
    (["--hostname", "-dash"], "--hostname"),
    (["--policy", "no-such-policy"], "no-such-policy"),
])
def test_bad_flag_is_a_clear_error(warren, args, named):
    r = run(warren, *args, "--", "sh", "-c", "echo started")
    assert r.returncode == EXIT_SETUP, r.stderr
    assert named in r.errors, r.stderr
    assert r.stdout == "", "the command ran despite a bad flag"


def test_missing_command_is_a_clear_error(warren):
    r = run(warren)
    assert r.returncode == EXIT_SETUP
    assert "no command" in r.errors


def test_unknown_option_message_names_warren(warren):
    # getopt's own message starts with argv[0]; users should see who complains.
    r = run(warren, "--bogus", "--", "true")
    assert r.errors.splitlines()[0].startswith("warren"), r.errors


def test_run_help(warren):
    p = subprocess.run([warren, "run", "--help"], capture_output=True, text=True)
    assert p.returncode == 0
    for flag in ("--policy", "--tty", "--interactive", "--image", "--workspace", "--memory", "--pids", "--cpus", "--timeout",
                 "--workspace-size", "--tmp-size", "--net", "--socket-families", "--env", "--cwd", "--hostname", "--verbose"):
        assert flag in p.stdout, f"{flag} missing from warren run --help"


def test_env_name_alone_passes_the_callers_value(warren):
    """`-e NAME` without `=VALUE` passes the caller's own value of NAME, as
    docker does; a NAME the caller does not have is dropped, not set empty.
    Nothing else of the caller's environment goes in."""
    env = dict(os.environ, FROM_CALLER="hello there", OTHER_OF_CALLER="kept out")
    env.pop("NOT_SET_HERE", None)
    r = run(warren, "-e", "FROM_CALLER", "--env", "NOT_SET_HERE", "--", "sh", "-c",
            'echo "${FROM_CALLER}|${NOT_SET_HERE-unset}|${OTHER_OF_CALLER-absent}"', env=env)
    assert (r.returncode, r.stdout) == (0, "hello there|unset|absent\n"), r.stderr


def test_short_image_and_timeout_flags_are_gone(warren):
    """-i and -t are --interactive and --tty now (a change, README): the
    old `-t 5s` is a stray argument that starts the command."""
    r = run(warren, "-t", "5s", "true")
    assert r.returncode == 127 and "5s" in r.errors, (r.returncode, r.stderr)


def policy_check(warren, path):
    return subprocess.run([warren, "policy", "check", str(path)], capture_output=True, text=True)


def test_policy_check_prints_the_effective_policy(warren, tmp_path):
    path = tmp_path / "mini.json"
    path.write_text(json.dumps({"version": 1, "name": "mini", "limits": {"memory": "64M"}}))
    p = policy_check(warren, path)
    assert p.returncode == 0, p.stderr
    eff = json.loads(p.stdout)
    assert eff["name"] == "mini"
    assert eff["limits"]["memory"] == "64M"
    # Defaults are filled in: the effective policy is complete.
    assert eff["limits"]["pids"] > 0 and eff["network"]["mode"] == "none"
    assert eff["seccomp"]["deny"], "effective policy has no seccomp deny list"


def test_policy_check_of_the_shipped_policies(warren):
    for name in ("default.json", "python.json"):
        path = os.path.join(REPO, "policy", name)
        p = policy_check(warren, path)
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout)["name"] == name[:-5]


@pytest.mark.parametrize("doc,path", [
    ({"version": 1, "name": "x", "limits": {"memory": "lots"}}, "limits.memory"),
    ({"version": 1, "name": "x", "limits": {"memroy": "1G"}}, "limits.memroy"),
    ({"version": 1, "name": "x", "limits": {"pids": -1}}, "limits.pids"),
    ({"version": 1, "name": "x", "seccomp": {"deny": ["mount", "notasyscall"]}}, "seccomp.deny[1]"),
    ({"version": 1, "name": "x", "mounts": [{"source": "/etc", "target": "/proc"}]}, "mounts[0].target"),
    ({"version": 1, "name": "x", "network": {"mode": "bridge"}}, "network.mode"),
    ({"version": 2, "name": "x"}, "version"),
    ({"version": 1, "name": "x", "hostname": 7}, "hostname"),
])
def test_bad_policy_error_names_the_json_path(warren, tmp_path, doc, path):
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(doc))
    p = policy_check(warren, f)
    assert p.returncode == 1, p.stderr  # warren(1): 1 when the policy is invalid or not found
    assert p.stdout == ""
    assert f"{path}:" in p.stderr and str(f.name) in p.stderr, p.stderr
    # warren run refuses the same policy with the same message.
    r = run(warren, "--policy", str(f), "--", "sh", "-c", "echo started")
    assert r.returncode == EXIT_SETUP
    assert f"{path}:" in r.errors and r.stdout == "", r.stderr


def test_malformed_json_policy_names_the_line(warren, tmp_path):
    f = tmp_path / "broken.json"
    f.write_text('{"version": 1,\n "name": "x",\n')
    p = policy_check(warren, f)
    assert p.returncode == 1, p.stderr  # warren(1): 1 when the policy is invalid or not found
    assert "broken.json" in p.stderr and "line" in p.stderr, p.stderr


def test_policy_check_of_a_missing_file(warren, tmp_path):
    p = policy_check(warren, tmp_path / "absent.json")
    assert p.returncode == 1, p.stderr  # warren(1): 1 when the policy is invalid or not found
    assert "absent.json" in p.stderr


def test_policy_images_list_limits_warren_run(warren, tmp_path):
    """A policy with an "images" list allows those names only: host runs,
    a directory image is refused with a message naming the policy."""
    policy = tmp_path / "only-host.json"
    policy.write_text(json.dumps({"version": 1, "images": ["host"]}))
    ok = run(warren, "--policy", str(policy), "--", "true")
    assert ok.returncode == 0, ok.stderr
    image = tmp_path / "img"
    (image / "usr").mkdir(parents=True)
    refused = run(warren, "--policy", str(policy), "--image", str(image), "--", "true")
    assert refused.returncode == EXIT_SETUP, refused.stderr
    assert "does not allow image" in refused.errors and "only-host" in refused.errors, refused.stderr
