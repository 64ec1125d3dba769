import pytest

from capitalize import capitalize_first, headline


@pytest.mark.parametrize(("text", "expected"), [("", ""), ("a", "A"), ("1st", "1st"), ("éclair", "Éclair"), (" x", " x")])
def test_cases(text, expected):
    assert capitalize_first(text) == expected


def test_headline():
    assert headline(["big", "news"]) == "Big news"
