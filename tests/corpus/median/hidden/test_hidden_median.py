import random
import statistics

from median import median


def test_matches_statistics():
    rng = random.Random(9)
    for _ in range(100):
        xs = [rng.randint(-20, 20) for _ in range(rng.randint(1, 11))]
        assert median(xs) == statistics.median(xs)
