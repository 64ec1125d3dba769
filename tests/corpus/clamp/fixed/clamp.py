def clamp(x, lo, hi):
    """x limited to the closed range [lo, hi]."""
    return max(lo, min(x, hi))


def clamp_all(xs, lo, hi):
    return [clamp(x, lo, hi) for x in xs]
