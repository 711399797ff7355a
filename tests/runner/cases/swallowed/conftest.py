# A hook that "handles" a test without running or reporting it: pytest exits
# 0 and the junit report lacks the test.
def pytest_runtest_protocol(item, nextitem):
    return True if item.name == "test_swallowed" else None
