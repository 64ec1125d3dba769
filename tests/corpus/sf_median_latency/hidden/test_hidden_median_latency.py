import random
import statistics

from median_latency import latency_summary


def test_random_samples():
    rng = random.Random(11)
    for _ in range(50):
        xs = [rng.randint(1, 500) for _ in range(rng.randint(1, 15))]
        ordered = sorted(xs)
        n = len(ordered)
        mid = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
        assert latency_summary(xs) == {"median": mid, "max": max(xs)}
        assert statistics.median(xs) == mid
