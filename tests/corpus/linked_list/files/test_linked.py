from llist.linked import from_list, length, to_list


def test_round_trip():
    assert to_list(from_list([1, 2, 3])) == [1, 2, 3]


def test_length():
    assert length(from_list([1, 2, 3])) == 3


def test_empty_length():
    assert length(None) == 0


def test_single_length():
    assert length(from_list(["x"])) == 1
