import pytest

from chunk import chunked


def test_even():
    assert chunked([1, 2, 3, 4], 2) == [[1, 2], [3, 4]]


def test_remainder():
    assert chunked([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]


def test_single_tail():
    assert chunked([1, 2, 3], 2) == [[1, 2], [3]]


def test_bad_size():
    with pytest.raises(ValueError):
        chunked([1], 0)
