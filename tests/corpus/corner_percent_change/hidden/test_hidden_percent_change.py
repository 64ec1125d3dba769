import pytest

from percent_change import badge, percent_change


@pytest.mark.parametrize(("old", "new", "expected"), [(0, 0, None), (50, 25, -50.0), (-10, -5, -50.0), (3, 4, 33.3)])
def test_cases(old, new, expected):
    assert percent_change(old, new) == expected


def test_badges():
    assert badge(200, 205) == "+2.5%"
    assert badge(10, 10) == "+0.0%"
