from clamp import clamp, clamp_all


def test_inside():
    assert clamp(5, 0, 10) == 5


def test_below():
    assert clamp(-3, 0, 10) == 0


def test_above():
    assert clamp(42, 0, 10) == 10


def test_all():
    assert clamp_all([-1, 5, 11], 0, 10) == [0, 5, 10]
