import pytest

from seqcheck import first_descent, is_sorted


@pytest.mark.parametrize("xs", [[], [1], [1, 1], [1, 2, 2, 3], [3, 2], [1, 3, 2], [2, 1, 3], list("abc"), [5, 5, 4]])
def test_matches_sorted(xs):
    assert is_sorted(xs) == (xs == sorted(xs))


def test_first_descent():
    assert first_descent([1, 3, 2]) == 2
