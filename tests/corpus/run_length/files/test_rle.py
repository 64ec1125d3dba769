from rle import decode, encode


def test_empty():
    assert encode("") == []


def test_runs():
    assert encode("aaabcc") == [("a", 3), ("b", 1), ("c", 2)]


def test_decode():
    assert decode([("x", 2), ("y", 1)]) == "xxy"


def test_round_trip():
    assert decode(encode("zzzzqz")) == "zzzzqz"
