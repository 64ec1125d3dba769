import random

from window import moving_average, moving_sums


def test_against_reference():
    rng = random.Random(6)
    for _ in range(100):
        xs = [rng.randint(-9, 9) for _ in range(rng.randint(0, 12))]
        k = rng.randint(0, 6)
        expected = [sum(xs[i:i + k]) for i in range(len(xs) - k + 1)] if 0 < k <= len(xs) else []
        assert moving_sums(xs, k) == expected
    assert moving_average([2, 4, 6], 2) == [3.0, 5.0]
