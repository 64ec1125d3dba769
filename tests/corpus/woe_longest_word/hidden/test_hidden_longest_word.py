import pytest

from longest_word import longest_word_length


@pytest.mark.parametrize(("text", "expected"), [
    ("a bb ccc", 3), ("zzz a", 3), ("   ", 0), ("tab\tseparated words", 9), ("b aaaa", 4),
])
def test_cases(text, expected):
    assert longest_word_length(text) == expected
