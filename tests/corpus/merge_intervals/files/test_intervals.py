from intervals import merge


def test_disjoint():
    assert merge([[5, 6], [1, 2]]) == [[1, 2], [5, 6]]


def test_overlap():
    assert merge([[1, 4], [2, 6]]) == [[1, 6]]


def test_touching():
    assert merge([[1, 2], [2, 3]]) == [[1, 3]]


def test_contained():
    assert merge([[1, 10], [2, 3], [4, 5]]) == [[1, 10]]


def test_gap_after_long():
    assert merge([[1, 10], [3, 4], [12, 13]]) == [[1, 10], [12, 13]]
