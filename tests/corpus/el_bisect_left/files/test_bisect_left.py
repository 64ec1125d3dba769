from bisect_left import bisect_left, contains


def test_insert_point():
    assert bisect_left([1, 3, 5, 7], 4) == 2


def test_past_the_end():
    assert bisect_left([1, 2, 3], 10) == 3


def test_contains():
    assert contains([2, 4, 6, 8], 6) is True
