def histogram(xs, lo, hi, bins):
    """Counts of xs in `bins` equal-width bins over [lo, hi]; hi falls in the last bin."""
    counts = [0] * bins
    width = (hi - lo) / bins
    for x in xs:
        if x < lo or x > hi:
            continue
        k = int((x - lo) / width)
        counts[min(k, bins - 1)] += 1
    return counts
