from read_until_blank import read_until_blank


def test_stops_at_blank():
    assert read_until_blank(["a", "b", "", "c"]) == ["a", "b"]


def test_no_blank_line():
    assert read_until_blank(["one", "two"]) == ["one", "two"]


def test_empty_input():
    assert read_until_blank([]) == []
