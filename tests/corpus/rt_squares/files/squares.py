"""Numeric helpers for the statistics notebook."""


def squares(values):
    """The square of each value, as a list."""
    return map(lambda v: v * v, values)


def sum_of_squares(values):
    """Sum of the squares."""
    return sum(squares(values))
