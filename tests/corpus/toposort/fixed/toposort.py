from collections import deque


def toposort(nodes, edges):
    """Kahn's algorithm; raises ValueError on a cycle. Ties keep input order."""
    indeg = {n: 0 for n in nodes}
    out = {n: [] for n in nodes}
    for u, v in edges:
        out[u].append(v)
        indeg[v] += 1
    ready = deque(n for n in nodes if indeg[n] == 0)
    order = []
    while ready:
        u = ready.popleft()
        order.append(u)
        for v in out[u]:
            indeg[v] -= 1
            if indeg[v] == 0:
                ready.append(v)
    if len(order) != len(nodes):
        raise ValueError("cycle")
    return order
