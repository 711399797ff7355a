"""Pinned npm packages installed once into a cache directory that later
runs reuse ($WARREN_NPM_CACHE, default /var/cache/warren-test/npm): the
official clients the MCP and E2B tests drive warrend with. Without
node/npm or the npm registry the caller's tests are skipped with the
reason, and fail under WARREN_MUST_RUN=1."""

import fcntl
import json
import os
import shutil
import subprocess
import tempfile

import pytest

from warrentest import MUST_RUN

NPM_CACHE = os.environ.get("WARREN_NPM_CACHE", "/var/cache/warren-test/npm")


def unavailable(what, why):
    if MUST_RUN:
        pytest.fail(f"the {what} tests must run under WARREN_MUST_RUN=1: {why}")
    pytest.skip(why)


def installed(prefix, packages):
    """Whether prefix/node_modules holds every NAME@VERSION of packages."""
    for spec in packages:
        name, version = spec.rsplit("@", 1)
        try:
            with open(os.path.join(prefix, "node_modules", name, "package.json")) as f:
                if json.load(f)["version"] != version:
                    return False
        except (OSError, ValueError, KeyError):
            return False
    return True


def install(what, dirname, packages):
    """The directory holding node_modules with packages (NAME@VERSION) at
    their pinned versions: installed once (under a lock: parallel runs
    share the cache; into a temporary directory renamed into place, so a
    failed install is never reused), then reused."""
    if not shutil.which("node") or not shutil.which("npm"):
        unavailable(what, "node and npm are needed (scripts/install-deps installs them)")
    target = os.path.join(NPM_CACHE, dirname)
    os.makedirs(NPM_CACHE, exist_ok=True)
    with open(os.path.join(NPM_CACHE, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if installed(target, packages):
            return target
        tmp = tempfile.mkdtemp(prefix=f".{dirname}-", dir=NPM_CACHE)
        # npm's own retries back off for a minute; two quicker tries of ours say sooner that
        # the registry is not there
        env = {**os.environ, "npm_config_cache": os.path.join(NPM_CACHE, "_npm"), "npm_config_update_notifier": "false",
               "npm_config_fetch_retries": "1", "npm_config_fetch_retry_mintimeout": "2000",
               "npm_config_fetch_retry_maxtimeout": "10000", "npm_config_fetch_timeout": "60000"}
        why = ""
        for _ in range(2):  # a registry hiccup gets a second try
            try:
                r = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", tmp, *packages],
                                   capture_output=True, text=True, timeout=300, env=env)
                why = r.stderr[-1500:]
            except subprocess.TimeoutExpired:
                why = "npm install took more than 300 s"
            if installed(tmp, packages):
                break
        else:
            shutil.rmtree(tmp, ignore_errors=True)
            unavailable(what, f"npm install {' '.join(packages)} failed (is the npm registry reachable?): {why}")
        shutil.rmtree(target, ignore_errors=True)
        os.rename(tmp, target)
        return target
