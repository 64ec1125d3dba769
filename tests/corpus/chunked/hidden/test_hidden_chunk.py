import pytest

from chunk import chunked


@pytest.mark.parametrize("n", range(0, 12))
@pytest.mark.parametrize("size", [1, 2, 3, 5, 20])
def test_chunks_rebuild_the_list(n, size):
    xs = list(range(n))
    parts = chunked(xs, size)
    assert [x for p in parts for x in p] == xs
    assert all(len(p) == size for p in parts[:-1])


def test_bad_size():
    with pytest.raises(ValueError):
        chunked([1], 0)
