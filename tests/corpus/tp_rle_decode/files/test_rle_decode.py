from rle_decode import rle_decode


def test_single_digits():
    assert rle_decode("3a2b1c") == "aaabbc"


def test_two_digits():
    assert rle_decode("12x") == "x" * 12


def test_mixed():
    assert rle_decode("10a1b") == "a" * 10 + "b"
