"""Sorted-list lookups for the price table."""


def bisect_left(items, target):
    """The first index at which `target` could be inserted keeping `items` sorted."""
    lo, hi = 0, len(items)
    while lo < hi:
        mid = (lo + hi) // 2
        if items[mid] < target:
            lo = mid + 1
        else:
            hi = mid
    return lo


def contains(items, target):
    """True if `target` is in the sorted list `items`."""
    i = bisect_left(items, target)
    return i < len(items) and items[i] == target
