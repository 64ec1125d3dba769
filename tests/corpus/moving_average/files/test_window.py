from window import moving_average, moving_sums


def test_sums():
    assert moving_sums([1, 2, 3, 4, 5], 2) == [3, 5, 7, 9]


def test_window_of_three():
    assert moving_sums([1, 0, 0, 1, 0], 3) == [1, 1, 1]


def test_average():
    assert moving_average([2, 4, 6], 3) == [4.0]


def test_too_big():
    assert moving_sums([1], 2) == []
