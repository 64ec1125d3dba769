from histogram import histogram


def test_spread():
    assert histogram([0, 1, 2, 3], 0, 4, 4) == [1, 1, 1, 1]


def test_upper_edge():
    assert histogram([4], 0, 4, 4) == [0, 0, 0, 1]


def test_out_of_range():
    assert histogram([-1, 5], 0, 4, 2) == [0, 0]


def test_two_bins():
    assert histogram([0.5, 1.5, 2.5, 3.9], 0, 4, 2) == [2, 2]
