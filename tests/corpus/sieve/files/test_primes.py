from primes import primes_up_to


def test_small():
    assert primes_up_to(10) == [2, 3, 5, 7]


def test_square_bound():
    assert primes_up_to(25) == [2, 3, 5, 7, 11, 13, 17, 19, 23]


def test_nothing():
    assert primes_up_to(1) == []


def test_prime_bound():
    assert primes_up_to(13)[-1] == 13
