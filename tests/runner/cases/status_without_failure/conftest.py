# pytest exits 1 ("tests failed") although every recorded test passed, as
# when a session-level check fails outside any test.
def pytest_sessionfinish(session):
    session.exitstatus = 1
