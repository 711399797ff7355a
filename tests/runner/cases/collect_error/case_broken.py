import a_module_that_does_not_exist  # noqa: F401 (the collection error is the point)


def test_never_collected():
    pass
