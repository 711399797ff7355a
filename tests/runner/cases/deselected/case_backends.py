def test_everywhere():
    pass


def test_not_on_docker():
    pass
