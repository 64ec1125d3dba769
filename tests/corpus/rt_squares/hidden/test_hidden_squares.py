from squares import squares, sum_of_squares


def test_reusable():
    result = squares([2, 3])
    assert list(result) == [4, 9]
    assert list(result) == [4, 9]


def test_empty_and_negative():
    assert squares([]) == []
    assert squares([-3]) == [9]
    assert sum_of_squares([]) == 0
