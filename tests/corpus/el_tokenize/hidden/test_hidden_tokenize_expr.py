import pytest

from tokenize_expr import tokenize


@pytest.mark.parametrize(("expr", "expected"), [
    ("", []), ("   ", []), (" 7 ", ["7"]), ("1\t+\n2", ["1", "+", "2"]),
    ("100-20/  3", ["100", "-", "20", "/", "3"]),
])
def test_cases(expr, expected):
    assert tokenize(expr) == expected
