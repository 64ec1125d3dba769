import pytest

from toposort import toposort


def test_chain():
    assert toposort(["a", "b", "c"], [("a", "b"), ("b", "c")]) == ["a", "b", "c"]


def test_independent():
    assert toposort(["x", "y"], []) == ["x", "y"]


def test_diamond():
    edges = [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]
    assert toposort(["a", "b", "c", "d"], edges) == ["a", "b", "c", "d"]


def test_cycle():
    with pytest.raises(ValueError):
        toposort(["a", "b"], [("a", "b"), ("b", "a")])
