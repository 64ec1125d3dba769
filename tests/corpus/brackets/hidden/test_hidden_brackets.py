import pytest

from brackets import balanced


@pytest.mark.parametrize(("text", "ok"), [
    ("", True), ("abc", True), ("([]{})", True), ("(]", False), ("(", False), (")", False),
    ("{[()()]}", True), ("([)]", False), ("f(a[1]) + {b}", True), ("}{", False),
])
def test_cases(text, ok):
    assert balanced(text) is ok
