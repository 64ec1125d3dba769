import pytest

from intervals import merge


@pytest.mark.parametrize(("given", "expected"), [
    ([], []), ([[1, 2]], [[1, 2]]), ([[1, 3], [2, 6], [8, 10]], [[1, 6], [8, 10]]), ([[1, 4], [4, 5]], [[1, 5]]),
    ([[5, 6], [1, 2]], [[1, 2], [5, 6]]), ([[1, 10], [2, 3], [4, 5]], [[1, 10]]), ([[1, 2], [3, 4]], [[1, 2], [3, 4]]),
])
def test_cases(given, expected):
    assert merge(given) == expected
