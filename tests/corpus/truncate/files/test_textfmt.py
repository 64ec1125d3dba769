from textfmt import pad, truncate


def test_short_unchanged():
    assert truncate("abc", 5) == "abc"


def test_cut():
    assert truncate("abcdefghij", 8) == "abcde..."


def test_cut_length():
    assert len(truncate("x" * 50, 10)) == 10


def test_pad():
    assert pad("ab", 4) == "ab  "
