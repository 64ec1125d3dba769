import random

from msort import merge_sort


def test_random_and_stable():
    rng = random.Random(8)
    for _ in range(100):
        xs = [rng.randint(0, 9) for _ in range(rng.randint(0, 15))]
        assert merge_sort(xs) == sorted(xs)
    pairs = [(1, "b"), (0, "z"), (1, "a")]
    assert merge_sort(pairs) == sorted(pairs)
