"""Choosing a backend: the request field, /v1/health's report, and what
warrend does at start when its backend cannot run sandboxes (refuse, or
take the configured fallback, loudly). The behaviour of each backend is
the rest of the daemon suite, which runs once per backend."""

import os
import subprocess

import pytest

from daemon_fixture import assert_error, daemon, start_daemon, warrend  # noqa: F401 (fixtures)
from warrentest import REPO, backend_unavailable

NO_ENGINE = "/run/warren-test/no-such-engine.sock"


def test_unknown_or_malformed_backend_is_400(daemon):
    assert_error(daemon.post("/v1/sessions", {"backend": "lxc"}), 400, "bad_request",
                 'unknown backend "lxc"', "native, oci or docker")
    assert_error(daemon.post("/v1/sessions", {"backend": 5}), 400, "bad_request", "backend: expected a string")
    assert_error(daemon.post("/v1/run", {"cmd": ["true"], "backend": "lxc"}), 400, "bad_request", "lxc")


def test_health_reports_every_backend_and_the_default(daemon):
    h = daemon.get("/v1/health").json()
    assert h["backend"] == daemon.backend, h
    assert set(h["backends"]) == {"native", "oci", "docker"}, h
    assert h["backends"][daemon.backend] == {"healthy": True, "default": True}, h
    for name, b in h["backends"].items():
        assert b["default"] == (name == daemon.backend), h
        assert b["healthy"] or b["error"], h  # an unhealthy one says why
    assert all(p["backend"] == daemon.backend for p in h["pools"]), h["pools"]


def test_a_session_on_another_backend_than_the_default(daemon):
    other = "native" if daemon.backend != "native" else "oci"
    why = backend_unavailable(other)
    if why:  # visible, and a failure under WARREN_MUST_RUN=1
        pytest.skip(f"backend {other}: {why}")
    # This host runs the other backend, so the daemon must find it healthy (the
    # 503 of an unhealthy one is test_the_fallback_takes_over_loudly_...'s).
    health = daemon.get("/v1/health").json()["backends"][other]
    assert health["healthy"], health
    r = daemon.post("/v1/sessions", {"backend": other})
    assert r.status_code == 201, r.text
    s = r.json()
    assert s["backend"] == other, s
    assert daemon.exec(s["id"], cmd=["id", "-u"])["stdout"] == "1000\n"
    daemon.remove(s["id"])


def test_an_unhealthy_backend_stops_the_start(warrend, tmp_path):
    conf = tmp_path / "warrend.conf"
    conf.write_text(f"backend = docker\ndocker_socket = {NO_ENGINE}\n")
    p = subprocess.run([warrend, "--config", str(conf), "--listen", f"unix:{tmp_path}/w.sock",
                        "--state-dir", str(tmp_path / "state"), "--policy-dir", os.path.join(REPO, "policy")],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1, p
    assert "!!! backend docker cannot run sandboxes" in p.stderr and NO_ENGINE in p.stderr, p.stderr
    assert "set backend_fallback" in p.stderr, p.stderr
    assert os.listdir(tmp_path / "state") == ["sessions"], "a refused start left state behind"


def test_the_fallback_takes_over_loudly_and_the_broken_backend_answers_503(start_daemon):
    d = start_daemon("--backend", "docker", "--backend-fallback", "native", config_extra=f"docker_socket = {NO_ENGINE}\n")
    log = d.log()
    assert "!!! backend docker cannot run sandboxes" in log and "!!! using the fallback backend native" in log, log
    h = d.get("/v1/health").json()
    assert h["backend"] == "native" and not h["backends"]["docker"]["healthy"], h
    assert NO_ENGINE in h["backends"]["docker"]["error"], h
    assert_error(d.post("/v1/sessions", {"backend": "docker"}), 503, "unavailable", "backend docker", NO_ENGINE)
    s = d.create()
    assert s["backend"] == "native", s
    d.remove(s["id"])
