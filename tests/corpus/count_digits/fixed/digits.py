def count_digits(n):
    """Decimal digits of a non-negative integer (0 has one)."""
    if n == 0:
        return 1
    count = 0
    while n > 0:
        n //= 10
        count += 1
    return count


def digit_sum(n):
    return sum(int(d) for d in str(n))
