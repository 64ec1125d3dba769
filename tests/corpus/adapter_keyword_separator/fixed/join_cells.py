"""Joining table cells for the plain-text report."""


def join_cells(cells, delimiter=" | ", *, sep=None):
    """The cells as strings, joined by `delimiter` (or `sep`); None cells are shown empty."""
    if sep is not None:
        delimiter = sep
    return delimiter.join("" if c is None else str(c) for c in cells)
