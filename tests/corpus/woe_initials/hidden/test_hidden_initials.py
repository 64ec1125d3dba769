import pytest

from initials import initials


@pytest.mark.parametrize(("name", "expected"), [
    ("", ""), ("  ", ""), ("alan  mathison   turing", "AMT"), ("émile zola", "ÉZ"), ("o'neil", "O"),
])
def test_cases(name, expected):
    assert initials(name) == expected
