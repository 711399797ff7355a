"""warrend sessions: create, list, get, delete, the limits a caller may ask
for, the errors a bad request gets, and the capacity limit (429)."""

import hashlib
import re

from daemon_fixture import assert_error, daemon, start_daemon, warrend  # noqa: F401 (fixtures)

SESSION_FIELDS = {"id", "image", "policy", "created", "last_used", "expires", "idle_timeout_s",
                  "max_lifetime_s", "state", "limits", "pooled"}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def test_create_returns_201_and_the_session_object(daemon):
    assert daemon.wait_pool_ready(), "the pool did not fill"
    r = daemon.post("/v1/sessions", {})
    assert r.status_code == 201, r.text
    s = r.json()
    assert SESSION_FIELDS <= set(s), s
    assert re.fullmatch(r"[0-9a-f]{32}", s["id"]), s["id"]
    assert (s["image"], s["policy"], s["state"]) == ("host", "default", "ready")
    assert s["pooled"] is True, "the pool was warm, the create must lease from it"
    for k in ("created", "last_used", "expires"):
        assert TIMESTAMP.match(s[k]), (k, s[k])
    assert s["idle_timeout_s"] == 3600 and s["max_lifetime_s"] == 86400
    assert set(s["limits"]) == {"memory", "pids", "cpus", "timeout", "output"}, s["limits"]
    daemon.remove(s["id"])


def test_ids_differ(daemon):
    a, b = daemon.create(), daemon.create()
    assert a["id"] != b["id"]
    daemon.remove(a["id"])
    daemon.remove(b["id"])


def test_list_shows_only_the_callers_sessions(start_daemon):
    d = start_daemon()
    as_ = {n: d.add_token(n) for n in ("alice", "bob")}
    a = d.post("/v1/sessions", {}, headers=as_["alice"])
    assert a.status_code == 201, a.text
    a = a.json()["id"]
    anon = d.create()["id"]

    def listed(**kw):
        r = d.get("/v1/sessions", **kw)
        assert r.status_code == 200, r.text
        return {s["id"] for s in r.json()["sessions"]}

    assert listed(headers=as_["alice"]) == {a}
    assert listed(headers=as_["bob"]) == set()
    assert listed() == {anon}
    assert_error(d.get(f"/v1/sessions/{a}", headers=as_["bob"]), 404, "not_found")
    assert_error(d.get(f"/v1/sessions/{a}"), 404, "not_found")
    assert_error(d.post(f"/v1/sessions/{a}/exec", {"cmd": ["true"]}, headers=as_["bob"]), 404, "not_found")
    assert_error(d.delete(f"/v1/sessions/{a}", headers=as_["bob"]), 404, "not_found")
    assert d.delete(f"/v1/sessions/{a}", headers=as_["alice"]).status_code == 200
    d.remove(anon)
    assert listed(headers=as_["alice"]) == set() and listed() == set()


def test_get_returns_the_session_with_execs_running(daemon):
    s = daemon.create()
    r = daemon.get(f"/v1/sessions/{s['id']}")
    assert r.status_code == 200, r.text
    g = r.json()
    assert g["id"] == s["id"] and g["state"] == "ready" and g["execs_running"] == 0, g
    daemon.remove(s["id"])


def test_delete_then_get_and_exec_are_404(daemon):
    s = daemon.create()
    assert daemon.remove(s["id"]) == {"id": s["id"], "deleted": True}
    assert_error(daemon.get(f"/v1/sessions/{s['id']}"), 404, "not_found")
    assert_error(daemon.post(f"/v1/sessions/{s['id']}/exec", {"cmd": ["true"]}), 404, "not_found")
    assert_error(daemon.delete(f"/v1/sessions/{s['id']}"), 404, "not_found")


def test_unknown_session_id_is_404(daemon):
    for sid in ("0" * 32, "not-an-id"):
        assert_error(daemon.get(f"/v1/sessions/{sid}"), 404, "not_found")
        assert_error(daemon.post(f"/v1/sessions/{sid}/exec", {"cmd": ["true"]}), 404, "not_found")


def test_limits_may_tighten_the_policy(daemon):
    s = daemon.create(limits={"memory": "64M", "pids": 32, "timeout": "10s", "output": "64K"})
    assert s["limits"]["memory"] == "64M" and s["limits"]["pids"] == 32, s["limits"]
    assert s["limits"]["timeout"] == "10s" and s["limits"]["output"] == "64K", s["limits"]
    # The sandbox's cgroup (seen from the host) really has the tighter limits.
    assert daemon.cgroup_value(s["id"], "memory") == 64 << 20
    assert daemon.cgroup_value(s["id"], "pids") == 32
    daemon.remove(s["id"])


def test_limits_may_not_loosen_the_policy(daemon):
    msg = assert_error(daemon.post("/v1/sessions", {"limits": {"memory": "64G"}}), 400, "bad_request",
                       "limits.memory")
    assert "exceeds" in msg, msg
    assert_error(daemon.post("/v1/sessions", {"limits": {"pids": 1000000}}), 400, "bad_request", "limits.pids")


def test_unknown_field_is_400_naming_it(daemon):
    assert_error(daemon.post("/v1/sessions", {"foo": 1}), 400, "bad_request", '"foo"')
    assert_error(daemon.post("/v1/sessions", {"limits": {"disk": "1G"}}), 400, "bad_request", "disk")


def test_malformed_json_is_400(daemon):
    for body in (b"{", b"[1,2]", b"not json", b'{"image": "host",}'):
        r = daemon.post("/v1/sessions", data=body, headers={"Content-Type": "application/json"})
        assert_error(r, 400, "bad_request")


def test_wrong_types_are_400(daemon):
    for body, name in (({"image": 1}, "image"), ({"limits": {"pids": "x"}}, "limits.pids"),
                       ({"limits": "big"}, "limits"), ({"env": ["A=1"]}, "env"),
                       ({"idle_timeout": "soon"}, "idle_timeout")):
        assert_error(daemon.post("/v1/sessions", body), 400, "bad_request", name)


def test_unknown_image_is_400_listing_the_available_ones(daemon):
    assert_error(daemon.post("/v1/sessions", {"image": "no-such-image"}), 400, "bad_request",
                 "no-such-image", "host")


def test_unknown_policy_is_400(daemon):
    assert_error(daemon.post("/v1/sessions", {"policy": "no-such-policy"}), 400, "bad_request", "no-such-policy")


def test_session_env_reaches_every_exec(daemon):
    s = daemon.create(env={"GREETING": "hello"})
    assert daemon.exec(s["id"], shell='echo "$GREETING"')["stdout"] == "hello\n"
    daemon.remove(s["id"])


def test_max_sessions_answers_429(start_daemon):
    d = start_daemon("--max-sessions", "3")
    ids = [d.create()["id"] for _ in range(3)]
    assert_error(d.post("/v1/sessions", {}), 429, "capacity")
    # The others keep working, and a delete makes room again.
    assert d.exec(ids[0], cmd=["true"])["exit_code"] == 0
    d.remove(ids[0])
    ids[0] = d.create()["id"]
    for sid in ids:
        d.remove(sid)


def test_max_sessions_per_token_answers_429_to_that_token_only(start_daemon, tmp_path):
    """warrend.conf(5): max_sessions_per_token caps each token's live
    sessions; other tokens (here bob, and the fixture's own) still create."""
    tokens = {"alice": "a" * 40, "bob": "b" * 40}
    path = tmp_path / "tokens"
    path.write_text("".join(f"{n} {hashlib.sha256(t.encode()).hexdigest()}\n" for n, t in tokens.items()))
    path.chmod(0o600)
    d = start_daemon("--tokens", str(path), config_extra="max_sessions_per_token = 2\n")
    alice, bob = ({"Authorization": f"Bearer {t}"} for t in tokens.values())
    mine = []
    for _ in range(2):
        r = d.post("/v1/sessions", {}, headers=alice)
        assert r.status_code == 201, r.text
        mine.append(r.json()["id"])
    msg = assert_error(d.post("/v1/sessions", {}, headers=alice), 429, "capacity")
    assert "this token holds its maximum of 2 sessions" in msg, msg
    theirs = d.post("/v1/sessions", {}, headers=bob)
    assert theirs.status_code == 201, theirs.text
    anon = d.create()["id"]
    # A delete makes room again for that token.
    assert d.delete(f"/v1/sessions/{mine.pop()}", headers=alice).status_code == 200
    r = d.post("/v1/sessions", {}, headers=alice)
    assert r.status_code == 201, r.text
    mine.append(r.json()["id"])
    for sid in mine:
        assert d.delete(f"/v1/sessions/{sid}", headers=alice).status_code == 200
    assert d.delete(f"/v1/sessions/{theirs.json()['id']}", headers=bob).status_code == 200
    d.remove(anon)
