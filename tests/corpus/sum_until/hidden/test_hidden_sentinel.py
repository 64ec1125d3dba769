from sentinel import sum_until


def test_cases():
    assert sum_until([]) == 0
    assert sum_until([0, 5]) == 0
    assert sum_until([1, 2, 0, 5, 0, 7]) == 3
    assert sum_until([3, 3, 9], sentinel=3) == 0
    assert sum_until([1, -1, 2], sentinel=None) == 2
