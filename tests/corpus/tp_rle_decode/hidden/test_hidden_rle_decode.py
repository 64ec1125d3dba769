import random

from rle_decode import rle_decode


def test_round_trip_random():
    rng = random.Random(2)
    for _ in range(100):
        runs = [(rng.randint(1, 150), rng.choice("abc#")) for _ in range(rng.randint(0, 6))]
        encoded = "".join(f"{n}{ch}" for n, ch in runs)
        assert rle_decode(encoded) == "".join(ch * n for n, ch in runs)


def test_empty():
    assert rle_decode("") == ""
