from graphs.dijkstra import shortest_paths
from graphs.graph import Graph


def build(edges):
    g = Graph()
    for u, v, w in edges:
        g.add_edge(u, v, w)
    return g


def test_longer_chain_with_shortcut():
    g = build([("a", "b", 1), ("b", "c", 1), ("c", "d", 1), ("a", "d", 10), ("d", "e", 1), ("b", "e", 7)])
    assert shortest_paths(g, "a") == {"a": 0, "b": 1, "c": 2, "d": 3, "e": 4}


def test_unreachable_nodes_absent():
    g = build([("a", "b", 2), ("c", "a", 1)])
    assert shortest_paths(g, "a") == {"a": 0, "b": 2}
    assert shortest_paths(build([]), "z") == {"z": 0}
