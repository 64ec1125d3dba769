import pytest

from find_ticket import find_ticket


@pytest.mark.parametrize(("message", "expected"), [
    ("refs ABC-1 and XY-22", "ABC-1"), ("lower ops-1", None), ("Merge: DATA-9000\n", "DATA-9000"),
    ("A-1 too short", None), ("", None), ("see\nWEB-7", "WEB-7"),
])
def test_cases(message, expected):
    assert find_ticket(message) == expected
