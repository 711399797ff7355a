"""Output files: what a run writes comes back (issue 18). The compatibility
one-shot /execute collects /tmp/output as the code-execution services did,
/v1/run collects what "collect" names, POST /v1/sessions/{id}/artifacts
does it for a live session. Small files come back inline (base64), the
others as artifacts: kept by warrend on disk under its state directory and
served by URLs signed with an HMAC and an expiry, which work without the
bearer token. What is left out (limits, links, fifos) is reported."""

import base64
import glob
import hashlib
import json
import os
import shutil
import socket
import struct
import time
import zlib
from urllib.parse import urlsplit

import pytest
import requests

from daemon_fixture import REPO, start_daemon, wait_for, warrend  # noqa: F401 (fixtures)

MIB = 1 << 20

# Every daemon here is native (start_daemon's default); oci reads the same fds.

def png_1x1():
    """A real PNG: one red pixel."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


# The same rows inside the sandbox (Python) and here, so the 30 MB are compared byte for byte.
CSV_CODE = """
def rows(limit):
    yield 'i,square\\n'
    n, i = 9, 0
    while n < limit:
        line = f'{i},{i * i}\\n'
        n += len(line)
        i += 1
        yield line
"""
exec(CSV_CODE)  # defines rows()  # noqa: S102


def csv_sha256(limit):
    h = hashlib.sha256()
    for line in rows(limit):  # noqa: F821 (from CSV_CODE)
        h.update(line.encode())
    return h.hexdigest()


def policy_dir(tmp_path):
    """The repository's policies, and two more: "big" collects up to 40M a
    file (the compatibility test's 30 MB CSV), "small" has tiny limits."""
    d = tmp_path / "policies"
    d.mkdir()
    for p in glob.glob(os.path.join(REPO, "policy", "*.json")):
        shutil.copy(p, d)
    base = json.load(open(os.path.join(REPO, "policy", "default.json")))
    for name, collect in (("big", {"file_max": "40M", "total_max": "100M"}),
                          ("small", {"file_max": 1000, "total_max": 2500, "count_max": 3})):
        doc = dict(base, name=name, collect=collect)
        (d / f"{name}.json").write_text(json.dumps(doc))
    return str(d)


@pytest.fixture(scope="module")
def policies(tmp_path_factory):
    return policy_dir(tmp_path_factory.mktemp("artifact-policies"))


@pytest.fixture
def big_daemon(start_daemon, policies):  # noqa: F811
    return start_daemon("--policy-dir", policies, config_extra="default_policy = big\n")


def fetch(url, **kw):
    """A signed URL as a browser or another service would: no token."""
    return requests.get(url, timeout=60, **kw)


def on(d, url):
    """url as served by daemon d (a restarted one listens on another port)."""
    parts = urlsplit(url)
    return f"{d.url}{parts.path}?{parts.query}"


def by_name(files):
    return {f["name"]: f for f in files}


def artifact_files(d):
    return sorted(os.listdir(os.path.join(d.state_dir, "artifacts")))


def metric(d, name):
    for line in d.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return int(line.split()[1])
    raise AssertionError(f"no metric {name}")


# --- the compatibility route ---------------------------------------------------------------


def test_compat_execute_returns_a_png_inline_and_a_30mb_csv_by_url(big_daemon):
    png = png_1x1()
    code = (f"import base64, os\nos.makedirs('/tmp/output', exist_ok=True)\n"
            f"open('/tmp/output/chart.png', 'wb').write(base64.b64decode({base64.b64encode(png).decode()!r}))\n"
            f"{CSV_CODE}\nwith open('/tmp/output/data.csv', 'w') as f:\n    f.writelines(rows({30 * MIB}))\n"
            f"os.symlink('/etc/passwd', '/tmp/output/passwd')\nos.symlink('/etc/shadow', '/tmp/output/shadow')\n"
            f"os.mkfifo('/tmp/output/pipe')\nprint('done')\n")
    r = big_daemon.post("/execute", {"code": code, "timeout": 120})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert (doc["success"], doc["stdout"]) == (True, "done\n"), doc
    files = by_name(doc["files"])
    assert set(files) == {"chart.png", "data.csv"}, doc["files"]
    # the PNG: inline, and by URL (every file has one, as those services answered)
    chart = files["chart.png"]
    assert (chart["path"], chart["size"], chart["content_type"]) == ("/tmp/output/chart.png", len(png), "image/png")
    assert base64.b64decode(chart["content_base64"]) == png
    got = fetch(chart["url"])
    assert got.status_code == 200 and got.content == png, (got.status_code, got.text[:200])
    assert got.headers["Content-Type"] == "image/png"
    assert got.headers["Content-Disposition"].startswith('attachment; filename="chart.png"')
    # the CSV: too large to come inline, by URL, byte for byte
    data = files["data.csv"]
    assert "content_base64" not in data and data["content_type"] == "text/csv", data
    got = fetch(data["url"])
    assert got.status_code == 200, got.text[:200]
    assert len(got.content) == data["size"] >= 30 * MIB
    assert hashlib.sha256(got.content).hexdigest() == csv_sha256(30 * MIB)
    # the links were not followed, the fifo did not hang the collector: all said
    left = {os.path.basename(f["path"]): f["code"] for f in doc["files_not_collected"]}
    assert left == {"passwd": "symlink", "shadow": "symlink", "pipe": "not_regular"}, doc["files_not_collected"]
    assert b"root:" not in got.content[:100]


def test_compat_execute_without_output_dir_answers_no_files(big_daemon):
    doc = big_daemon.post("/execute", {"code": "open('made.txt', 'w').write('x')", "timeout": 10}).json()
    assert doc["files"] == [] and "files_not_collected" not in doc, doc


def test_compat_reports_limits_exceeded(start_daemon, policies):  # noqa: F811
    d = start_daemon("--policy-dir", policies, config_extra="default_policy = small\n")
    code = ("import os\nos.makedirs('/tmp/output')\n"
            "for name, size in (('a', 900), ('b', 1500), ('c', 900), ('d', 900), ('e', 10)):\n"
            "    open(f'/tmp/output/{name}.txt', 'w').write('x' * size)\n")
    doc = d.post("/execute", {"code": code, "timeout": 30}).json()
    assert [f["name"] for f in doc["files"]] == ["a.txt", "c.txt", "e.txt"], doc
    left = {os.path.basename(f["path"]): (f["code"], f["reason"]) for f in doc["files_not_collected"]}
    assert left["b.txt"][0] == "too_large" and "collect.file_max" in left["b.txt"][1], left
    assert left["d.txt"][0] == "total_limit" and "collect.total_max" in left["d.txt"][1], left


# --- /v1/run and sessions ---------------------------------------------------------------------


def test_run_collect_inline_small_and_urls_for_the_rest(start_daemon, policies):  # noqa: F811
    d = start_daemon("--policy-dir", policies)
    r = d.post("/v1/run", {"shell": "mkdir -p out/sub && echo small > out/a.txt && head -c 300000 /dev/zero > "
                                    "out/sub/big.bin && echo p > plot.png && echo t > notes.txt && "
                                    "ln -s /etc/passwd out/pw",
                           "collect": ["out/", "*.png", "missing/"]})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["exit_code"] == 0, doc
    files = by_name(doc["collected"])
    assert set(files) == {"a.txt", "sub/big.bin", "plot.png"}, doc
    assert base64.b64decode(files["a.txt"]["content_base64"]) == b"small\n" and "url" not in files["a.txt"]
    big = files["sub/big.bin"]
    assert "content_base64" not in big and big["size"] == 300000, big
    assert fetch(big["url"]).content == b"\0" * 300000
    assert urlsplit(big["url"]).path.endswith("/big.bin")
    left = {f["path"]: f["code"] for f in doc["not_collected"]}
    assert left == {"/workspace/out/pw": "symlink", "/workspace/missing": "missing"}, left


def test_run_collect_limits_reported(start_daemon, policies):  # noqa: F811
    d = start_daemon("--policy-dir", policies)
    r = d.post("/v1/run", {"policy": "small", "collect": ["/tmp/o/"],
                           "shell": "mkdir /tmp/o && cd /tmp/o && for f in 1 2 3 4 5; do head -c 700 /dev/zero > $f; "
                                    "done && head -c 2000 /dev/zero > big"})
    doc = r.json()
    assert [f["name"] for f in doc["collected"]] == ["1", "2", "3"], doc
    left = {os.path.basename(f["path"]): f["code"] for f in doc["not_collected"]}
    assert left == {"4": "count_limit", "5": "count_limit", "big": "too_large"}, left
    r = d.post("/v1/run", {"shell": "true", "collect": ["/etc/passwd"]})
    assert r.status_code == 400 and "only files in /workspace and /tmp" in r.text, r.text
    r = d.post("/v1/run", {"shell": "true", "collect": ["../x"]})
    assert r.status_code == 400, r.text


def test_session_artifacts(start_daemon, policies):  # noqa: F811
    d = start_daemon("--policy-dir", policies)
    other = d.add_token("other")
    sid = d.create()["id"]
    d.exec(sid, shell="echo report > r.txt && mkdir -p /tmp/plots && echo 1 > /tmp/plots/p1.png")
    r = d.post(f"/v1/sessions/{sid}/artifacts", {"paths": ["r.txt", "/tmp/plots/"]})
    assert r.status_code == 200, r.text
    files = by_name(r.json()["collected"])
    # a session's files are handed on as links: every one has a URL, none inline
    assert set(files) == {"r.txt", "p1.png"} and all("content_base64" not in f for f in files.values()), files
    assert fetch(files["r.txt"]["url"]).content == b"report\n"
    assert fetch(files["p1.png"]["url"]).headers["Content-Type"] == "image/png"
    # the session is still there, and only its owner may do this
    assert d.exec(sid, shell="cat r.txt")["stdout"] == "report\n"
    r = requests.post(d.url + f"/v1/sessions/{sid}/artifacts", json={"paths": ["r.txt"]}, headers=other, timeout=30)
    assert r.status_code == 404, r.text
    assert d.post(f"/v1/sessions/{sid}/artifacts", {"paths": []}).status_code == 400
    assert d.post(f"/v1/sessions/{sid}/artifacts", {"paths": ["/proc/self/environ"]}).status_code == 400
    d.remove(sid)
    assert d.post(f"/v1/sessions/{sid}/artifacts", {"paths": ["r.txt"]}).status_code == 404


# --- signed URLs ----------------------------------------------------------------------------------


def one_url(d, content=b"secret output\n", name="out.txt"):
    sid = d.create()["id"]
    d.exec(sid, shell=f"cat > {name}", stdin=content.decode())
    r = d.post(f"/v1/sessions/{sid}/artifacts", {"paths": [name]})
    d.remove(sid)
    return r.json()["collected"][0]


def test_altered_urls_are_refused(start_daemon):  # noqa: F811
    d = start_daemon()
    url = one_url(d)["url"]
    assert fetch(url).content == b"secret output\n"
    parts = urlsplit(url)
    _, _, _, aid, name = parts.path.split("/")
    query = dict(p.split("=") for p in parts.query.split("&"))
    base = f"{parts.scheme}://{parts.netloc}/v1/artifacts"
    flip = {"0": "1"}.get(query["signature"][0], "0") + query["signature"][1:]
    altered = {
        "signature": f"{base}/{aid}/{name}?expires={query['expires']}&signature={flip}",
        "expiry": f"{base}/{aid}/{name}?expires={int(query['expires']) + 3600}&signature={query['signature']}",
        "name": f"{base}/{aid}/other.txt?{parts.query}",
        "id": f"{base}/{'0' * 32}/{name}?{parts.query}",
        "no signature": f"{base}/{aid}/{name}?expires={query['expires']}",
    }
    for what, bad in altered.items():
        for headers in ({}, d.auth):  # a token does not make a bad signature good
            r = fetch(bad, headers=headers)
            assert r.status_code == 403, (what, r.status_code, r.text)
            assert r.json()["error"]["code"] == "forbidden", (what, r.text)
    # the unix socket serves it too
    status, body = d.unix_request("GET", parts.path + "?" + parts.query)
    assert status == 200 and body == b"secret output\n"


def test_expired_urls_are_refused_and_the_files_gone(start_daemon):  # noqa: F811
    d = start_daemon(config_extra="artifact_ttl = 2s\n")
    url = one_url(d)["url"]
    expires = int(dict(p.split("=") for p in urlsplit(url).query.split("&"))["expires"])
    assert wait_for(lambda: time.time() > expires + 1, 10)
    r = fetch(url)
    assert r.status_code == 403 and "expired" in r.json()["error"]["message"], r.text
    assert wait_for(lambda: not artifact_files(d), 10), artifact_files(d)
    assert metric(d, "warren_artifacts_expired_total") == 1 and metric(d, "warren_artifacts") == 0


def test_tokenless_download_closes_its_connection(start_daemon):  # noqa: F811
    """A signed URL lets one request in without a token on a listener that
    wants tokens: nothing may ride in behind it on the same connection."""
    d = start_daemon()
    url = urlsplit(one_url(d)["url"])
    with socket.create_connection(("127.0.0.1", d.port), timeout=30) as s:
        target = f"{url.path}?{url.query}"
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: {url.netloc}\r\n\r\n"
                  f"GET /v1/sessions HTTP/1.1\r\nHost: {url.netloc}\r\n\r\n".encode())
        got = b""
        while chunk := s.recv(65536):
            got += chunk
    assert got.startswith(b"HTTP/1.1 200"), got[:300]
    assert b"secret output" in got and got.count(b"HTTP/1.1 ") == 1, got


def test_quotas_per_token_and_in_all(start_daemon):  # noqa: F811
    d = start_daemon(config_extra="artifact_quota_per_token = 1M\nartifact_quota = 1536K\n")
    bob = d.add_token("bob")

    def store(headers, name):
        sid = requests.post(d.url + "/v1/sessions", json={}, headers=headers, timeout=60).json()["id"]
        requests.post(d.url + f"/v1/sessions/{sid}/exec", json={"shell": f"head -c 600000 /dev/zero > {name}"},
                      headers=headers, timeout=60)
        r = requests.post(d.url + f"/v1/sessions/{sid}/artifacts", json={"paths": [name]}, headers=headers,
                          timeout=60).json()
        requests.delete(d.url + f"/v1/sessions/{sid}", headers=headers, timeout=60)
        return r

    assert [f["name"] for f in store(d.auth, "a1")["collected"]] == ["a1"]
    r = store(d.auth, "a2")  # 1.2M would pass this token's 1M
    assert r["collected"] == [] and r["not_collected"][0]["code"] == "quota", r
    assert "artifact_quota_per_token" in r["not_collected"][0]["reason"], r
    assert [f["name"] for f in store(bob, "b1")["collected"]] == ["b1"]
    r = store(bob, "b2")  # bob's own would fit, not warrend's 1.5M in all
    assert r["not_collected"][0]["code"] == "quota" and "artifact_quota)" in r["not_collected"][0]["reason"], r
    assert metric(d, "warren_artifacts") == 2 and metric(d, "warren_artifacts_bytes") == 1200000
    assert len(artifact_files(d)) == 4  # the data and the record of each


def test_artifacts_survive_a_restart_until_they_expire(start_daemon, tmp_path):  # noqa: F811
    workdir = str(tmp_path / "w")
    d = start_daemon(workdir=workdir)  # artifact_ttl: 5h
    kept = one_url(d, b"kept\n", "kept.txt")
    d.stop()
    d = start_daemon(workdir=workdir, config_extra="artifact_ttl = 10s\n")
    short = one_url(d, b"short\n", "short.txt")
    d.stop()
    expires = int(urlsplit(short["url"]).query.split("&")[0].split("=")[1])
    # stopped before its expiry: it is still on disk for the next start to find
    assert len(artifact_files(d)) == 4, "the daemon took over 10 s to store and stop"
    assert wait_for(lambda: time.time() > expires + 1, 20)
    d = start_daemon(workdir=workdir)
    # the expired one was removed as the daemon started; the other one and its key survived
    assert "artifacts: 1 kept from a previous run, 1 expired" in d.log(), d.log()
    assert fetch(on(d, kept["url"])).content == b"kept\n"
    assert fetch(on(d, short["url"])).status_code == 403
    assert len(artifact_files(d)) == 2
    key = os.path.join(d.state_dir, "artifact.key")
    assert os.stat(key).st_mode & 0o777 == 0o600


def test_artifact_key_file_is_checked(start_daemon, tmp_path):  # noqa: F811
    key = tmp_path / "key"
    key.write_text("ab" * 32 + "\n")
    os.chmod(key, 0o644)
    with pytest.raises(AssertionError, match="lets others read the artifact key"):
        start_daemon(config_extra=f"artifact_key_file = {key}\n")
    os.chmod(key, 0o600)
    d = start_daemon(config_extra=f"artifact_key_file = {key}\npublic_url = https://files.example\n")
    url = one_url(d)["url"]
    assert url.startswith("https://files.example/v1/artifacts/"), url
    assert fetch(d.url + url[len("https://files.example"):]).content == b"secret output\n"
