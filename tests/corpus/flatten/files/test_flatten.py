from flatten import flatten


def test_flat():
    assert flatten([1, 2]) == [1, 2]


def test_nested():
    assert flatten([1, [2, [3, 4]], 5]) == [1, 2, 3, 4, 5]


def test_empty_lists():
    assert flatten([[], [[]]]) == []


def test_strings_kept():
    assert flatten(["ab", ["c"]]) == ["ab", "c"]
