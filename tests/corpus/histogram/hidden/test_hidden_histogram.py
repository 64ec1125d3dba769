from histogram import histogram


def test_bins():
    assert histogram([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0, 10, 5) == [2, 2, 2, 2, 3]
    assert histogram([-1, 11], 0, 10, 2) == [0, 0]
    assert histogram([10], 0, 10, 1) == [1]
    assert histogram([], 0, 1, 3) == [0, 0, 0]
