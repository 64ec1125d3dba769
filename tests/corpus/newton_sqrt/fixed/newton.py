def sqrt(n, eps=1e-12):
    """Square root of n >= 0 by Newton's method."""
    if n == 0:
        return 0.0
    x = float(n)
    while abs(x * x - n) > eps * n:
        x = (x + n / x) / 2
    return x
