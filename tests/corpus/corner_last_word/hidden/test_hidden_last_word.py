import pytest

from last_word import completion_prefix, last_word


@pytest.mark.parametrize(("text", "expected"), [("a", "a"), ("a b ", "b"), ("\tx\ny", "y"), ("", "")])
def test_cases(text, expected):
    assert last_word(text) == expected


def test_prefix():
    assert completion_prefix("open FILE") == "file"
