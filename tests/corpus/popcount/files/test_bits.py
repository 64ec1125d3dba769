from bits import parity, popcount


def test_zero():
    assert popcount(0) == 0


def test_seven():
    assert popcount(7) == 3


def test_power_of_two():
    assert popcount(64) == 1


def test_parity():
    assert parity(6) == 0
    assert parity(7) == 1
