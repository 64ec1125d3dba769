import statistics

import pytest

from stats import mean, variance


@pytest.mark.parametrize("xs", [[1], [1, 2], [1, 2, 2], [-1, 0, 4], [0.5, 0.25], [10, 11, 13, 17]])
def test_matches_statistics(xs):
    assert mean(xs) == pytest.approx(statistics.fmean(xs))
    assert variance(xs) == pytest.approx(statistics.pvariance(xs))
