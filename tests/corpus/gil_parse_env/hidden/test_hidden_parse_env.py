import pytest

from parse_env import parse_env


@pytest.mark.parametrize(("text", "expected"), [
    ("", {}), ("# only a comment", {}), ("   \n\t\n", {}), ("  # indented comment\nK=v", {"K": "v"}),
    ("URL=http://x/?a=b", {"URL": "http://x/?a=b"}), ("A=1\nA=2", {"A": "2"}), ("EMPTY=", {"EMPTY": ""}),
])
def test_cases(text, expected):
    assert parse_env(text) == expected
