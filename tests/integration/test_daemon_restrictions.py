"""Per-token restrictions (the tokens file's policies=, images=, backends=,
max_sessions=; `warrend token add --policies ...`) and the operator's
allow_backend_choice, enforced wherever a sandbox is leased: POST
/v1/sessions, POST /v1/run, /create_session and the one-shot /execute."""

import subprocess

from daemon_fixture import assert_error, start_daemon, warrend  # noqa: F401 (fixtures)


def forbidden(r, field, value, token, allowed):
    return assert_error(r, 403, "forbidden",
                        f'{field}: "{value}" is not allowed for the token "{token}" (allowed: {allowed})')


def test_policies_images_backends_of_a_token(start_daemon):
    d = start_daemon()
    ci = d.add_token("ci", "--policies", "default", "--images=host", "--backends", "native")
    free = d.add_token("free")
    forbidden(d.post("/v1/sessions", {"policy": "python"}, headers=ci), "policy", "python", "ci", "default")
    forbidden(d.post("/v1/sessions", {"image": "python"}, headers=ci), "image", "python", "ci", "host")
    forbidden(d.post("/v1/sessions", {"backend": "oci"}, headers=ci), "backend", "oci", "ci", "native")
    forbidden(d.post("/v1/run", {"cmd": ["true"], "policy": "python"}, headers=ci), "policy", "python", "ci",
              "default")
    forbidden(d.post("/v1/run", {"cmd": ["true"], "backend": "docker"}, headers=ci), "backend", "docker", "ci",
              "native")
    # What it may use works, and a token without restrictions keeps every choice.
    r = d.post("/v1/sessions", {"policy": "default", "image": "host", "backend": "native"}, headers=ci)
    assert r.status_code == 201, r.text
    d.delete(f"/v1/sessions/{r.json()['id']}", headers=ci)
    r = d.post("/v1/run", {"cmd": ["echo", "ok"]}, headers=ci)
    assert r.status_code == 200 and r.json()["stdout"] == "ok\n", r.text
    r = d.post("/v1/sessions", {"policy": "python"}, headers=free)
    assert r.status_code == 201, r.text
    d.delete(f"/v1/sessions/{r.json()['id']}", headers=free)


def test_the_compatibility_routes_are_restricted_too(start_daemon):
    """/create_session and the one-shot /execute name no policy: the
    default one must be among the token's."""
    d = start_daemon()
    py = d.add_token("py-only", "--policies=python")
    forbidden(d.post("/create_session", headers=py), "policy", "default", "py-only", "python")
    forbidden(d.post("/execute", {"code": "print(1)", "timeout": 10}, headers=py), "policy", "default", "py-only",
              "python")
    r = d.post("/v1/sessions", {"policy": "python"}, headers=py)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    r = d.post("/execute", {"session_id": sid, "command": "echo in", "timeout": 10}, headers=py)
    assert r.status_code == 200 and r.json()["output"] == "in\n", r.text
    d.delete(f"/v1/sessions/{sid}", headers=py)


def test_max_sessions_of_a_token(start_daemon):
    d = start_daemon()
    two = d.add_token("two", "--max-sessions", "2")
    sids = []
    for _ in range(2):
        r = d.post("/v1/sessions", {}, headers=two)
        assert r.status_code == 201, r.text
        sids.append(r.json()["id"])
    assert_error(d.post("/v1/sessions", {}, headers=two), 429, "capacity",
                 "this token holds its maximum of 2 sessions")
    assert_error(d.post("/create_session", headers=two), 429, "capacity")
    assert d.create()["id"]  # the fixture's token is not limited by it
    for sid in sids:
        d.delete(f"/v1/sessions/{sid}", headers=two)
    r = d.post("/v1/sessions", {}, headers=two)
    assert r.status_code == 201, r.text
    d.delete(f"/v1/sessions/{r.json()['id']}", headers=two)
    for s in d.get("/v1/sessions").json()["sessions"]:
        d.remove(s["id"])


def test_token_add_checks_restrictions(warrend, tmp_path):
    tokens = str(tmp_path / "tokens")
    r = subprocess.run([warrend, "token", "add", "ci", "--backends", "lxc", "--tokens", tokens],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1 and r.stderr == 'warrend: backends: unknown backend "lxc" (native, oci or docker)\n', r
    r = subprocess.run([warrend, "token", "add", "ci", "--max-sessions", "--tokens", tokens],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 2 and r.stderr.startswith("warrend: --max-sessions needs a value\nUsage:"), r
    r = subprocess.run([warrend, "token", "add", "ci", "--max-execs", "4", "--policies", "python,default",
                        "--tokens", tokens], capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r
    with open(tokens) as f:
        assert f.read().split()[2:] == ["max_execs=4", "policies=python,default"]


def test_operator_disables_backend_choice(start_daemon):
    d = start_daemon(config_extra="allow_backend_choice = false\n")
    for path, body in (("/v1/sessions", {"backend": "oci"}), ("/v1/run", {"cmd": ["true"], "backend": "oci"})):
        assert_error(d.post(path, body), 403, "forbidden",
                     'backend: "oci" may not be chosen per request on this daemon (allow_backend_choice = false); '
                     "leave it out to use native")
    r = d.post("/v1/sessions", {"backend": "native"})  # naming the default is fine
    assert r.status_code == 201, r.text
    d.remove(r.json()["id"])
