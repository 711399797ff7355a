import os
import signal


def test_before():
    pass


def test_killed():
    # The OOM killer or a CI timeout: no junit report is ever written.
    os.kill(os.getpid(), signal.SIGKILL)
