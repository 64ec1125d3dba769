import pytest

import chunking


def test_even_split():
    assert chunking.chunked([1, 2, 3, 4], 2) == [[1, 2], [3, 4]]


def test_short_tail():
    assert chunking.chunked([1, 2, 3], 2) == [[1, 2], [3]]


def test_round_trip():
    assert chunking.flatten(chunking.chunked(list(range(7)), 3)) == list(range(7))


def test_bad_size():
    with pytest.raises(ValueError):
        chunking.chunked([1], 0)
