# Deselects as daemon_fixture.deselect_other_backends does: the reason rides
# on the item for tests/runner/collection_report.py.
def pytest_collection_modifyitems(config, items):
    drop = [i for i in items if i.name == "test_not_on_docker"]
    for item in drop:
        item.warren_deselected = "on docker: the engine cannot"
    config.hook.pytest_deselected(items=drop)
    items[:] = [i for i in items if i not in drop]
