class Graph:
    """A directed graph with weighted edges."""

    def __init__(self):
        self.adj = {}

    def add_edge(self, u, v, w):
        self.adj.setdefault(u, []).append((v, w))
        self.adj.setdefault(v, [])

    def neighbours(self, u):
        return self.adj.get(u, [])
