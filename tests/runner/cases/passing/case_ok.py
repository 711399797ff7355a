import pytest


def test_one():
    pass


def test_two():
    pass


def test_skipped():
    pytest.skip("a visible reason")
