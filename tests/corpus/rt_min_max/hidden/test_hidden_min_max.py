from min_max import bounds


def test_is_a_tuple_usable_as_a_key():
    cache = {bounds([1, 5]): "x"}
    assert cache[(1, 5)] == "x"


def test_floats_and_negatives():
    assert bounds([-2.5, 0.5], padding=0.5) == (-3.0, 1.0)
