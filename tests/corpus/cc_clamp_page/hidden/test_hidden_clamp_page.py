import pytest

from clamp_page import clamp_page


@pytest.mark.parametrize(("page", "total", "expected"), [
    (1, 1, 1), (2, 1, 1), (5, 5, 5), (6, 5, 1), (0, 5, 1), (-3, 5, 1), (None, 0, 1), (4, 10, 4),
])
def test_cases(page, total, expected):
    assert clamp_page(page, total) == expected
