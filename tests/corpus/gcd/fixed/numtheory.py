def gcd(a, b):
    """Greatest common divisor of two non-negative integers."""
    while b:
        a, b = b, a % b
    return a


def lcm(a, b):
    return a * b // gcd(a, b) if a and b else 0
