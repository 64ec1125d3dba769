"""Geometry helpers for the floor-plan tool."""


def distance(p, q):
    """Euclidean distance between two (x, y) points."""
    return math.hypot(q[0] - p[0], q[1] - p[1])


def perimeter(points):
    """Perimeter of the closed polygon through `points`, in order."""
    return sum(distance(points[i], points[(i + 1) % len(points)]) for i in range(len(points)))
