import random

from sort_versions import newest, sort_versions


def test_random_versions():
    rng = random.Random(5)
    for _ in range(50):
        parts = [tuple(rng.randint(0, 12) for _ in range(3)) for _ in range(8)]
        texts = [".".join(map(str, p)) for p in parts]
        assert sort_versions(texts) == [".".join(map(str, p)) for p in sorted(parts)]


def test_shorter_sorts_first():
    assert sort_versions(["1.0.1", "1.0"]) == ["1.0", "1.0.1"]
    assert newest(["0.9", "0.10.0"]) == "0.10.0"
