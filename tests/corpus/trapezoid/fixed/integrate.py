def trapezoid(f, a, b, n=100):
    """Integral of f over [a, b] by the trapezoid rule with n panels."""
    h = (b - a) / n
    total = (f(a) + f(b)) / 2
    for i in range(1, n):
        total += f(a + i * h)
    return total * h
