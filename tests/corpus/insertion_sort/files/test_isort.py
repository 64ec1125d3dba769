from isort import insertion_sort


def test_sorts():
    assert insertion_sort([4, 2, 5, 1, 3]) == [1, 2, 3, 4, 5]


def test_sorted_stays():
    assert insertion_sort([1, 2, 3]) == [1, 2, 3]


def test_reversed():
    assert insertion_sort([3, 2, 1]) == [1, 2, 3]


def test_empty():
    assert insertion_sort([]) == []
