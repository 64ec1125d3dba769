import pytest

from clock import format_duration


@pytest.mark.parametrize(("s", "expected"), [
    (0, "0:00"), (59, "0:59"), (60, "1:00"), (61, "1:01"), (3599, "59:59"), (3600, "60:00"), (7325, "122:05"),
])
def test_cases(s, expected):
    assert format_duration(s) == expected
