def is_power_of_two(n):
    """True for 1, 2, 4, 8 ...; False for zero and negatives."""
    return n > 0 and n & (n - 1) == 0


def next_power_of_two(n):
    p = 1
    while p < n:
        p *= 2
    return p
