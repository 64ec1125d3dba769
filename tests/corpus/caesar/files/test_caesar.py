from caesar import decode, encode


def test_encode():
    assert encode("abc", 1) == "bcd"


def test_wraps():
    assert encode("xyz", 3) == "abc"


def test_keeps_case_and_punctuation():
    assert encode("Hi, Zed!", 2) == "Jk, Bgf!"


def test_round_trip():
    assert decode(encode("Round trip", 7), 7) == "Round trip"
