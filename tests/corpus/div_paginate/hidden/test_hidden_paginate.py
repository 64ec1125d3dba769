import pytest

from paginate import paginate


@pytest.mark.parametrize("n", range(0, 15))
@pytest.mark.parametrize("per", [1, 2, 3, 7, 20])
def test_pages_cover_items(n, per):
    pages = paginate(list(range(n)), per)
    assert [x for p in pages for x in p] == list(range(n))
    assert all(1 <= len(p) <= per for p in pages)
    assert len(pages) == -(-n // per)
