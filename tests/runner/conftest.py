# cases/ holds the broken pytest runs test_runner.py drives, each in its own
# pytest process; this run must not collect them (or load their conftests).
collect_ignore = ["cases"]
