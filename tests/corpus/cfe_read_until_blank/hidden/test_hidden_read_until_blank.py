import pytest

from read_until_blank import read_until_blank


@pytest.mark.parametrize(("lines", "expected"), [
    (["x"], ["x"]),
    (["   "], []),
    (["a", "\t", "b"], ["a"]),
    (["a", "b", "c", "d"], ["a", "b", "c", "d"]),
    (["", "a"], []),
])
def test_cases(lines, expected):
    assert read_until_blank(lines) == expected
