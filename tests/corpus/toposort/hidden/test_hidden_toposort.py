import pytest

from toposort import toposort


def test_orders_respect_edges():
    nodes = list("abcdef")
    edges = [("a", "d"), ("f", "b"), ("b", "d"), ("f", "a"), ("d", "c")]
    order = toposort(nodes, edges)
    assert sorted(order) == nodes
    for u, v in edges:
        assert order.index(u) < order.index(v)
    assert toposort(["x", "y"], []) == ["x", "y"]


def test_cycle():
    with pytest.raises(ValueError):
        toposort(["a", "b", "c"], [("a", "b"), ("b", "c"), ("c", "b")])
