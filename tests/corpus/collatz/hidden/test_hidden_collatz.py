import pytest

from collatz import steps


@pytest.mark.parametrize(("n", "expected"), [(1, 0), (2, 1), (3, 7), (6, 8), (7, 16), (27, 111), (97, 118)])
def test_known(n, expected):
    assert steps(n) == expected
