from stats import mean, variance


def test_mean_of_odd_total():
    assert mean([1, 2]) == 1.5


def test_mean_of_thirds():
    assert abs(mean([1, 1, 2]) - 4 / 3) < 1e-9


def test_variance():
    assert variance([1, 2, 3, 4]) == 1.25


def test_mean_halves():
    assert mean([3, 4, 4, 4]) == 3.75
