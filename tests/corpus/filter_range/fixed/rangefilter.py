def between(x, lo, hi):
    """True when lo <= x <= hi."""
    return lo <= x <= hi


def filter_range(xs, lo, hi):
    """Items of xs inside [lo, hi], order kept."""
    return [x for x in xs if between(x, lo, hi)]
