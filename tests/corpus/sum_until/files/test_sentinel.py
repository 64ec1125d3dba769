from sentinel import sum_until


def test_stops_at_sentinel():
    assert sum_until([1, 2, 0, 5]) == 3


def test_no_sentinel():
    assert sum_until([1, 2, 3]) == 6


def test_custom_sentinel():
    assert sum_until([4, -1, 4], sentinel=-1) == 4
