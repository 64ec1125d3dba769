from bits import parity, popcount


def test_matches_bin():
    for n in list(range(300)) + [2 ** 64 - 1, 2 ** 100]:
        assert popcount(n) == bin(n).count("1")
        assert parity(n) == bin(n).count("1") % 2
