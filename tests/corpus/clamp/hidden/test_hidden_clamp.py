import pytest

from clamp import clamp, clamp_all


@pytest.mark.parametrize("x", [-10, -1, 0, 1, 5, 9, 10, 11, 100, 2.5])
def test_matches_definition(x):
    assert clamp(x, 0, 10) == (0 if x < 0 else 10 if x > 10 else x)


def test_degenerate_range_and_all():
    assert clamp(5, 3, 3) == 3
    assert clamp_all([], 0, 1) == []
