from median import median


def test_odd_count():
    assert median([1, 2, 10]) == 2


def test_unsorted():
    assert median([9, 1, 5, 3, 100]) == 5


def test_even_count():
    assert median([4, 1, 3, 2]) == 2.5
