"""Axis ranges for the chart renderer."""


def bounds(values, padding=0):
    """(low, high) of the values, widened by `padding` on each side."""
    if not values:
        raise ValueError("no values")
    return (min(values) - padding, max(values) + padding)
