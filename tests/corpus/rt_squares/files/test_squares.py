from squares import squares, sum_of_squares


def test_squares():
    assert squares([1, 2, 3]) == [1, 4, 9]


def test_len():
    assert len(squares([4, 5])) == 2


def test_sum():
    assert sum_of_squares([3, 4]) == 25
