import pytest

from vowels import count_vowels, strip_vowels


@pytest.mark.parametrize(("s", "n"), [("", 0), ("xyz", 0), ("AEIOU", 5), ("Hello World", 3), ("rhythm", 0), ("aAa", 3)])
def test_count(s, n):
    assert count_vowels(s) == n


def test_strip():
    assert strip_vowels("Education") == "dctn"
