from numtheory import gcd, lcm


def test_gcd():
    assert gcd(12, 8) == 4


def test_coprime():
    assert gcd(9, 4) == 1


def test_with_zero():
    assert gcd(7, 0) == 7


def test_lcm():
    assert lcm(4, 6) == 12
