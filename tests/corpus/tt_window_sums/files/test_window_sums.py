from window_sums import window_sums


def test_size_two():
    assert window_sums([1, 2, 3, 4], 2) == [3, 5, 7]


def test_size_three():
    assert window_sums([1, 1, 1, 5, 5], 3) == [3, 7, 11]


def test_too_short():
    assert window_sums([1, 2], 3) == []
