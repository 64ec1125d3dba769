"""Spatial hashing for the collision detector."""


def cell_of(x, y, size=10):
    """The (column, row) grid cell containing point (x, y)."""
    return [int(x // size), int(y // size)]


def bucket(points, size=10):
    """Map each occupied cell to the points in it, in input order."""
    cells = {}
    for x, y in points:
        cells.setdefault(cell_of(x, y, size), []).append((x, y))
    return cells
