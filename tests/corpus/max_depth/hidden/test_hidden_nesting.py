import pytest

from nesting import max_depth


@pytest.mark.parametrize(("text", "d"), [
    ("", 0), ("abc", 0), ("()", 1), ("(()())", 2), ("((a)(b(c)))", 3), ("(", -1), (")(", -1), ("(()", -1), ("())", -1),
])
def test_cases(text, d):
    assert max_depth(text) == d
