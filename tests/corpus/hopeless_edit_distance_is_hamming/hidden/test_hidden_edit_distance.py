import pytest

from edit_distance import edit_distance


@pytest.mark.parametrize(("a", "b", "d"), [
    ("", "", 0), ("", "abc", 3), ("kitten", "sitting", 3), ("flaw", "lawn", 2), ("abc", "cab", 2), ("ab", "ba", 2),
])
def test_cases(a, b, d):
    assert edit_distance(a, b) == d
    assert edit_distance(b, a) == d
