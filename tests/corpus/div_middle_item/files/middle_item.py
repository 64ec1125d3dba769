"""Picking representative samples from sorted measurements."""


def middle_item(items):
    """The middle item of a non-empty sorted list (the upper one for an even count)."""
    return items[len(items) / 2]


def quartiles(items):
    """(lower middle, middle, upper middle) of a sorted list of at least three items."""
    half = len(items) // 2
    return middle_item(items[:half]), middle_item(items), middle_item(items[half:])
