from flatten import flatten


def test_deep_and_empty():
    assert flatten([]) == []
    assert flatten([[], [[]]]) == []
    assert flatten([1, [2, [3, [4, [5]]]], 6]) == [1, 2, 3, 4, 5, 6]
    assert flatten(["ab", ["cd"]]) == ["ab", "cd"]
    assert flatten([(1, 2), [3]]) == [(1, 2), 3]
