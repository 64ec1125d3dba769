def steps(n):
    """Collatz steps from n >= 1 down to 1."""
    count = 0
    while n != 1:
        if n % 2 == 0:
            n //= 2
        else:
            n = 3 * n + 1
        count += 1
    return count
