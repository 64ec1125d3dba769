from ranking import top_k


def test_top_two():
    assert top_k({"a": 1, "b": 5, "c": 3}, 2) == [("b", 5), ("c", 3)]


def test_all():
    assert [n for n, _ in top_k({"x": 2, "y": 1}, 5)] == ["x", "y"]


def test_zero():
    assert top_k({"a": 1}, 0) == []
