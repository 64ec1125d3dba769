import math

from numtheory import gcd, lcm


def test_matches_math():
    for a in range(0, 40):
        for b in range(0, 40):
            assert gcd(a, b) == math.gcd(a, b)
    assert lcm(4, 6) == 12
    assert lcm(0, 5) == 0
