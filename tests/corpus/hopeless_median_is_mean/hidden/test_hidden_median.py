import random
import statistics

from median import median


def test_random():
    rng = random.Random(12)
    for _ in range(100):
        xs = [rng.randint(-50, 50) for _ in range(rng.randint(1, 9))]
        assert median(xs) == statistics.median(xs)
