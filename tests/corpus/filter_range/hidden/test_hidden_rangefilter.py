from rangefilter import between, filter_range


def test_bounds_inclusive_and_order_kept():
    assert filter_range([5, 0, 10, -1, 11, 7], 0, 10) == [5, 0, 10, 7]
    assert filter_range([], 0, 1) == []
    assert filter_range([1, 2], 3, 2) == []
    assert between(3, 3, 3)
