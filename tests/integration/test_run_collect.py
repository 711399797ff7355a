"""`warren run --collect PATH --output-dir DIR`: after the command, the files
PATH names in the sandbox's /workspace and /tmp are copied into a host
directory the caller gives, as the caller, within the policy's "collect"
limits, never through a symbolic link there; what is left out is said on
stderr."""

import json
import os

import pytest

from warrentest import EXIT_SETUP, REPO, run

MAKE = ("mkdir -p out/sub /tmp/plots && echo a > out/a.txt && echo s > out/sub/s.txt && "
        "head -c 100000 /dev/urandom > out/r.bin && cp out/r.bin /tmp/plots/copy.bin && echo p > top.png && "
        "ln -s /etc/passwd out/pw && mkfifo out/f && echo made")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def test_collect_into_a_host_directory(warren, tmp_path):
    out = tmp_path / "made-for-us"  # made when missing
    r = run(warren, "--collect", "out/", "--collect", "/tmp/plots/*.bin", "--collect", "*.png",
            "--output-dir", str(out), "--", "sh", "-c", MAKE)
    assert (r.returncode, r.stdout) == (0, "made\n"), r.stderr
    assert sorted(os.listdir(out)) == ["a.txt", "copy.bin", "r.bin", "sub", "top.png"], os.listdir(out)
    assert read(out / "a.txt") == b"a\n" and read(out / "sub" / "s.txt") == b"s\n"
    assert read(out / "r.bin") == read(out / "copy.bin") and len(read(out / "r.bin")) == 100000
    st = os.stat(out / "r.bin")
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (os.getuid(), os.getgid(), 0o644)
    assert "collected /workspace/out/sub/s.txt into" in r.stderr, r.stderr
    # what was left out, and why
    assert "not collected: /workspace/out/pw: a symbolic link (never followed)" in r.stderr, r.stderr
    assert "not collected: /workspace/out/f: not a regular file" in r.stderr, r.stderr


def test_collect_refuses_links_planted_in_the_output_directory(warren, tmp_path):
    out, outside = tmp_path / "out", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    (outside / "target").write_text("untouched\n")
    os.symlink(outside / "target", out / "a.txt")  # as the file's own name
    os.symlink(outside, out / "sub")               # as a directory on the way
    (out / "r.bin").write_text("old\n")            # a regular file is replaced
    r = run(warren, "--collect", "out/", "--output-dir", str(out), "--", "sh", "-c", MAKE)
    assert r.returncode == 0, r.stderr  # the command's status
    assert (outside / "target").read_text() == "untouched\n"
    assert os.listdir(outside) == ["target"]
    assert os.readlink(out / "a.txt") == str(outside / "target") and os.readlink(out / "sub") == str(outside)
    assert "not collected: /workspace/out/a.txt: a.txt is a symbolic link in the output directory" in r.stderr, r.stderr
    assert "not collected: /workspace/out/sub/s.txt: sub is a symbolic link in the output directory" in r.stderr
    assert len(read(out / "r.bin")) == 100000


def test_collect_within_the_policy_limits(warren, tmp_path):
    policy = json.load(open(os.path.join(REPO, "policy", "default.json")))
    policy["collect"] = {"file_max": "50K", "count_max": 2}
    path = tmp_path / "small.json"
    path.write_text(json.dumps(policy))
    out = tmp_path / "out"
    r = run(warren, "--policy", str(path), "--collect", "out/", "--output-dir", str(out), "--", "sh", "-c", MAKE)
    assert sorted(os.listdir(out)) == ["a.txt", "sub"], os.listdir(out)
    assert "not collected: /workspace/out/r.bin: 100000 bytes, more than the limit of 50K per file " \
           "(collect.file_max)" in r.stderr, r.stderr


@pytest.mark.parametrize("args,says", [
    (["--collect", "out/"], "--collect needs --output-dir"),
    (["--output-dir", "/tmp"], "--output-dir is where --collect writes"),
    (["--collect", "/etc/passwd", "--output-dir", "/tmp"], "only files in /workspace and /tmp"),
    (["--collect", "../up", "--output-dir", "/tmp"], "leaves the sandbox's /workspace and /tmp"),
    (["-t", "--collect", "x", "--output-dir", "/tmp"], "--collect does not work with --tty"),
])
def test_collect_flags_are_checked_before_anything_runs(warren, args, says):
    r = run(warren, *args, "--", "sh", "-c", "echo started")
    assert r.returncode == EXIT_SETUP and says in r.stderr, r.stderr
    assert r.stdout == ""
