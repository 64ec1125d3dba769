def sum_until(xs, sentinel=0):
    """Sum of the items before the first sentinel."""
    total = 0
    for x in xs:
        if x == sentinel:
            break
        total += x
    return total
