import random

from merge_sorted import merge_sorted


def test_random_lists_merge_like_sorted():
    rng = random.Random(13)
    for _ in range(200):
        a = sorted(rng.randint(-5, 5) for _ in range(rng.randint(0, 8)))
        b = sorted(rng.randint(-5, 5) for _ in range(rng.randint(0, 8)))
        assert merge_sorted(a, b) == sorted(a + b)


def test_stable_on_ties():
    left, right = [(1, "l")], [(1, "r")]
    got = merge_sorted([x[0] for x in left], [x[0] for x in right])
    assert got == [1, 1]
    assert merge_sorted([], []) == []
