from dictutil import invert, merge


def test_invert():
    assert invert({"a": 1, "b": 2}) == {1: "a", 2: "b"}


def test_invert_collision():
    assert invert({"a": 1, "b": 1}) == {1: "b"}


def test_merge():
    assert merge({"a": 1}, {"a": 2, "b": 3}) == {"a": 2, "b": 3}
