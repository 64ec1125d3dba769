import bisect
import random

from bisect_left import bisect_left, contains


def test_matches_stdlib():
    rng = random.Random(3)
    for _ in range(200):
        items = sorted(rng.randint(0, 20) for _ in range(rng.randint(0, 10)))
        target = rng.randint(-2, 22)
        assert bisect_left(items, target) == bisect.bisect_left(items, target)
        assert contains(items, target) == (target in items)
