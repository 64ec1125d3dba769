import random

from window_sums import window_sums


def test_against_reference():
    rng = random.Random(7)
    for _ in range(100):
        values = [rng.randint(-9, 9) for _ in range(rng.randint(0, 12))]
        size = rng.randint(1, 5)
        expected = [sum(values[i:i + size]) for i in range(max(0, len(values) - size + 1))]
        assert window_sums(values, size) == expected


def test_size_one_is_identity():
    assert window_sums([4, 5, 6], 1) == [4, 5, 6]
