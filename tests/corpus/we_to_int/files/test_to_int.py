from to_int import to_int


def test_valid():
    assert to_int(" 42 ") == 42


def test_invalid_gives_default():
    assert to_int("abc", default=0) == 0


def test_empty_gives_none():
    assert to_int("") is None
