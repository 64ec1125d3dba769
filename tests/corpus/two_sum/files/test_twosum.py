from twosum import two_sum


def test_basic():
    assert two_sum([2, 7, 11, 15], 9) == (0, 1)


def test_same_value_twice():
    assert two_sum([3, 3], 6) == (0, 1)


def test_not_itself():
    assert two_sum([3, 2, 4], 6) == (1, 2)


def test_none():
    assert two_sum([1, 2], 10) is None
