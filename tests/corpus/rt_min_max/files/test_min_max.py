import pytest

from min_max import bounds


def test_bounds():
    assert bounds([3, 1, 2]) == (1, 3)


def test_padding():
    assert bounds([10], padding=1) == (9, 11)


def test_empty():
    with pytest.raises(ValueError):
        bounds([])
