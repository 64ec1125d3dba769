"""Collapse runs of repeated values in a sequence."""


def collapse_repeats(items):
    """Return items with each run of equal consecutive values reduced to one.

    >>> collapse_repeats([1, 1, 2, 2, 2, 1])
    [1, 2, 1]
    """
    result = []
    previous = object()
    for item in items:
        if item != previous:
            result.append(item)
    return result
