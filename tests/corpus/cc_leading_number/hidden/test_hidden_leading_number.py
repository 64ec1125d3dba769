import pytest

from leading_number import leading_number


@pytest.mark.parametrize(("text", "expected"), [
    ("", None), ("0", 0), ("007", 7), ("1.2.3", 1), ("x1", None), (" 1", None), ("99999999999", 99999999999),
])
def test_cases(text, expected):
    assert leading_number(text) == expected
