"""Sessions and the network: never the host's (a sandbox on it would reach
warrend's own listeners: from `--net host`, `curl localhost:PORT/v1/sessions`
listed other sessions), and egress not yet (warren run has it); the default
stays none."""

import json

from daemon_fixture import assert_error, start_daemon, warrend  # noqa: F401


def test_sessions_never_get_the_host_network_nor_egress_yet(start_daemon, tmp_path):  # noqa: F811
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "hostnet.json").write_text(json.dumps(
        {"version": 1, "name": "hostnet", "network": {"mode": "host", "allow_host": True}}))
    (policies / "egress.json").write_text(json.dumps(
        {"version": 1, "name": "egress", "network": {"mode": "egress", "allow": ["198.51.100.1"]}}))
    d = start_daemon("--policy-dir", str(policies))
    assert_error(d.post("/v1/sessions", {"policy": "hostnet"}), 503, "unavailable",
                 "a session cannot have the host's network (policy hostnet): it would reach warrend itself")
    assert_error(d.post("/v1/sessions", {"policy": "egress"}), 503, "unavailable",
                 "network egress is not available to sessions yet (policy egress)")
    r = d.post("/v1/sessions", {})
    assert r.status_code == 201, r.text
    assert d.delete(f"/v1/sessions/{r.json()['id']}").status_code in (200, 204)
