"""Joining table cells for the plain-text report."""


def join_cells(cells, delimiter=" | "):
    """The cells as strings, joined by `delimiter`; None cells are shown empty."""
    return delimiter.join("" if c is None else str(c) for c in cells)
