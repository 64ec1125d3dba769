import pytest

from editdist import distance


@pytest.mark.parametrize(("a", "b", "d"), [
    ("", "", 0), ("a", "", 1), ("", "ab", 2), ("kitten", "sitting", 3), ("flaw", "lawn", 2), ("abc", "abc", 0),
    ("ab", "ba", 2), ("x", "y", 1),
])
def test_cases(a, b, d):
    assert distance(a, b) == d
    assert distance(b, a) == d
