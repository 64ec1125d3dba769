from primes import primes_up_to


def naive(n):
    return [k for k in range(2, n + 1) if all(k % d for d in range(2, int(k ** 0.5) + 1))]


def test_matches_trial_division():
    for n in range(-2, 200):
        assert primes_up_to(n) == naive(n)
