from newton import sqrt


def test_zero():
    assert sqrt(0) == 0.0


def test_four():
    assert abs(sqrt(4) - 2) < 1e-9


def test_two():
    assert abs(sqrt(2) - 1.41421356237) < 1e-9


def test_large():
    assert abs(sqrt(1e6) - 1000) < 1e-6
