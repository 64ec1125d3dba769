import pytest

from percent import percent


@pytest.mark.parametrize(("part", "whole", "expected"), [
    (0, 10, 0.0), (10, 10, 100.0), (2, 3, 66.7), (3, 2, 150.0), (1, 8, 12.5), (7, 1000, 0.7),
])
def test_cases(part, whole, expected):
    assert percent(part, whole) == expected
