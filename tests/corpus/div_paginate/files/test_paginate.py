from paginate import paginate


def test_even_split():
    assert paginate([1, 2, 3, 4], 2) == [[1, 2], [3, 4]]


def test_last_page_short():
    assert paginate([1, 2, 3], 2) == [[1, 2], [3]]


def test_empty():
    assert paginate([], 5) == []
