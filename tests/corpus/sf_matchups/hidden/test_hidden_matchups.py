import pytest

from matchups import games_needed, matchups


@pytest.mark.parametrize("n", range(0, 9))
def test_counts(n):
    assert games_needed(list(range(n))) == n * (n - 1) // 2


def test_each_pair_once_in_order():
    got = matchups([1, 2, 3, 4])
    assert got == [(1, 2), (1, 3), (1, 4), (2, 3), (2, 4), (3, 4)]
    assert len({frozenset(p) for p in got}) == len(got)
