"""pytest plugin (-p collection_report, with tests/runner on PYTHONPATH):
writes what collection selected to $WARREN_COLLECTION_REPORT as JSON,

  {"selected": N, "deselected": [{"id": NODEID, "reason": WHY}, ...]}

so that tests/runner/count.py can tell a partial junit report from a whole
one and count deselected tests as skipped, with their reason. A hook that
deselects a test on purpose says why by setting the item's attribute
`warren_deselected` (daemon_fixture.deselect_other_backends does);
other deselections (-k, -m) are reported as such.
"""

import json
import os

_deselected = []


def pytest_deselected(items):
    _deselected.extend(items)


def pytest_collection_finish(session):
    path = os.environ.get("WARREN_COLLECTION_REPORT")
    if not path:
        return
    deselected = [{"id": item.nodeid,
                   "reason": getattr(item, "warren_deselected", None) or "deselected by -k/-m on the command line"}
                  for item in _deselected]
    with open(path, "w") as f:
        json.dump({"selected": len(session.items), "deselected": deselected}, f)
