def moving_sums(xs, k):
    """Sums of every window of k consecutive items."""
    if k <= 0 or k > len(xs):
        return []
    s = sum(xs[:k])
    out = [s]
    for i in range(k, len(xs)):
        s += xs[i] - xs[i - k]
        out.append(s)
    return out


def moving_average(xs, k):
    return [s / k for s in moving_sums(xs, k)]
