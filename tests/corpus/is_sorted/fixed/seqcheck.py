def is_sorted(xs):
    """True when every item is <= the next."""
    return all(a <= b for a, b in zip(xs, xs[1:]))


def first_descent(xs):
    for i in range(1, len(xs)):
        if xs[i] < xs[i - 1]:
            return i
    return None
