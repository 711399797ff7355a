"""Sessions and the network: never the host's (a sandbox on it would reach
warrend's own listeners: from `--net host`, `curl localhost:PORT/v1/sessions`
listed other sessions); the default stays none. Egress sessions have their
own module (test_daemon_egress.py)."""

import json

from daemon_fixture import assert_error, start_daemon, warrend  # noqa: F401


def test_sessions_never_get_the_host_network(start_daemon, tmp_path):  # noqa: F811
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "hostnet.json").write_text(json.dumps(
        {"version": 1, "name": "hostnet", "network": {"mode": "host", "allow_host": True}}))
    d = start_daemon("--policy-dir", str(policies))
    # refused before any sandbox is made, whether the policy or the request says host
    for body in ({"policy": "hostnet"}, {"policy": "hostnet", "network": {"mode": "host"}}):
        assert_error(d.post("/v1/sessions", body), 400, "bad_request",
                     "a session cannot have the host's network (policy hostnet): it would reach warrend itself")
    assert_error(d.post("/v1/run", {"policy": "hostnet", "cmd": ["true"]}), 400, "bad_request",
                 "a session cannot have the host's network")
    # the policy's host mode narrowed to none: a sandbox with lo only
    s = d.post("/v1/sessions", {"policy": "hostnet", "network": {"mode": "none"}})
    assert s.status_code == 201, s.text
    assert s.json()["network"] == {"mode": "none"}
    r = d.exec(s.json()["id"], cmd=["python3", "-c", "import socket; print(len(socket.if_nameindex()))"])
    assert r["stdout"].strip() == "1", r
    d.remove(s.json()["id"])
    # never warmed: a pool of the host network would only fail
    pools = {(p["policy"], p["network"]): p for p in d.get("/v1/health").json()["pools"]}
    assert pools[("hostnet", "host")]["target"] == 0, pools
    assert pools[("hostnet", "host")]["starting"] == 0, pools
    r = d.post("/v1/sessions", {})
    assert r.status_code == 201, r.text
    assert r.json()["network"] == {"mode": "none"}
    d.remove(r.json()["id"])
