import pytest

from textfmt import pad, truncate


@pytest.mark.parametrize("width", range(3, 15))
def test_never_longer_than_width(width):
    s = "abcdefghij"
    got = truncate(s, width)
    assert len(got) <= width
    assert got == s if len(s) <= width else got == s[:width - 3] + "..."


def test_pad():
    assert pad("ab", 4) == "ab  "
