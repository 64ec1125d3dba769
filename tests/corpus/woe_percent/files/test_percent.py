from percent import percent


def test_half():
    assert percent(50, 100) == 50.0


def test_third():
    assert percent(1, 3) == 33.3


def test_zero_whole():
    assert percent(5, 0) == 0.0
