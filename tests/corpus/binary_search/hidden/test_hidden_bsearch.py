import random

from bsearch import binary_search


def test_every_position_and_misses():
    rng = random.Random(1)
    for _ in range(100):
        xs = sorted(rng.sample(range(100), rng.randint(0, 12)))
        for i, x in enumerate(xs):
            assert binary_search(xs, x) == i
        for miss in (-1, 100, 50.5):
            assert binary_search(xs, miss) == -1
