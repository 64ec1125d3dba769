from rangefilter import between, filter_range


def test_between():
    assert between(5, 1, 10)
    assert not between(0, 1, 10)


def test_filter():
    assert filter_range([0, 5, 10, 15], 1, 10) == [5, 10]


def test_filter_none():
    assert filter_range([1, 2], 5, 6) == []
