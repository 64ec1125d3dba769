import pytest

from average_rating import average_rating


@pytest.mark.parametrize(("ratings", "expected"), [
    ([5], 5.0), ([1, 2], 1.5), ([1, 1, 2], 1.3), ([5, 5, 5, 4], 4.8), ([2, 3, 3, 3, 3, 3], 2.8),
])
def test_cases(ratings, expected):
    assert average_rating(ratings) == expected
