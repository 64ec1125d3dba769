from msort import merge, merge_sort


def test_merge():
    assert merge([1, 4], [2, 3, 5]) == [1, 2, 3, 4, 5]


def test_sort():
    assert merge_sort([5, 2, 9, 1, 5, 6]) == [1, 2, 5, 5, 6, 9]


def test_single():
    assert merge_sort([1]) == [1]


def test_empty():
    assert merge_sort([]) == []
