def unique_in_order(xs):
    """xs with runs of equal items collapsed to one, order kept."""
    out = []
    for x in xs:
        if not out or out[-1] != x:
            out.append(x)
    return out


def count_runs(xs):
    return len(unique_in_order(xs))
