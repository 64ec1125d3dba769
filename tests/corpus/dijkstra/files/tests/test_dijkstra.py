from graphs.dijkstra import shortest_paths
from graphs.graph import Graph


def make():
    g = Graph()
    g.add_edge("a", "b", 1)
    g.add_edge("b", "c", 2)
    g.add_edge("a", "c", 5)
    g.add_edge("c", "d", 1)
    return g


def test_source_is_zero():
    assert shortest_paths(make(), "a")["a"] == 0


def test_direct_neighbour():
    assert shortest_paths(make(), "a")["b"] == 1


def test_shorter_detour():
    assert shortest_paths(make(), "a")["c"] == 3


def test_two_hops_on():
    assert shortest_paths(make(), "a")["d"] == 4
