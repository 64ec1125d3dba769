import pytest

from csvsplit import split_row


@pytest.mark.parametrize(("line", "fields"), [
    ("", [""]), ("a", ["a"]), ("a,", ["a", ""]), (",a", ["", "a"]), ('"a,b",c,"d"', ["a,b", "c", "d"]),
    ('x,"",y', ["x", "", "y"]),
])
def test_cases(line, fields):
    assert split_row(line) == fields
