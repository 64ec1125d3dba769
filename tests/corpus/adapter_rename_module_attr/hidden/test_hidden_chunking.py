import pytest

import chunking


@pytest.mark.parametrize("n", range(0, 10))
@pytest.mark.parametrize("size", [1, 2, 4, 11])
def test_round_trip(n, size):
    xs = list(range(n))
    assert chunking.flatten(chunking.chunked(xs, size)) == xs
    assert chunking.chunked(xs, size) == chunking.chunks(xs, size)


def test_negative_size():
    with pytest.raises(ValueError):
        chunking.chunked([1], -1)
