import string

from caesar import caesar


def test_more():
    assert caesar("", 5) == ""
    assert caesar("abc", 26) == "abc"
    assert caesar("abc", -1) == "zab"
    assert caesar("ABC xyz 123", 2) == "CDE zab 123"
    text = string.ascii_letters
    assert caesar(caesar(text, 7), -7) == text
