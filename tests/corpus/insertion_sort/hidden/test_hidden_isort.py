import random

from isort import insertion_sort


def test_random_lists():
    rng = random.Random(4)
    for _ in range(100):
        xs = [rng.randint(-5, 5) for _ in range(rng.randint(0, 12))]
        assert insertion_sort(list(xs)) == sorted(xs)


def test_in_place():
    xs = [3, 1, 2]
    assert insertion_sort(xs) is xs and xs == [1, 2, 3]
