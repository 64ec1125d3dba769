from merge_sorted import merge_sorted


def test_interleaved():
    assert merge_sorted([1, 4, 9], [2, 3, 10]) == [1, 2, 3, 4, 9, 10]


def test_right_longer():
    assert merge_sorted([5], [1, 6, 7]) == [1, 5, 6, 7]


def test_left_empty():
    assert merge_sorted([], [1, 2]) == [1, 2]


def test_left_longer():
    assert merge_sorted([1, 2, 8], [3]) == [1, 2, 3, 8]
