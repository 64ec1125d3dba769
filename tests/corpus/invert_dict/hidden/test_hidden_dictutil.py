from dictutil import invert, merge


def test_invert():
    assert invert({}) == {}
    assert invert({"a": 1, "b": 2}) == {1: "a", 2: "b"}
    assert invert({"a": 1, "b": 1}) == {1: "b"}
    assert invert({1: "x", 2: "y"}) == {"x": 1, "y": 2}
    assert merge({"a": 1}, {"a": 2}) == {"a": 2}
