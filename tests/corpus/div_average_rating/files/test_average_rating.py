from average_rating import average_rating


def test_half_star():
    assert average_rating([3, 4]) == 3.5


def test_thirds():
    assert average_rating([5, 4, 4]) == 4.3


def test_none():
    assert average_rating([]) is None
