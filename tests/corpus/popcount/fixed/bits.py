def popcount(n):
    """Number of set bits of a non-negative integer."""
    count = 0
    while n:
        count += n & 1
        n >>= 1
    return count


def parity(n):
    return popcount(n) % 2
