import pytest

from mean_reading import mean_reading


@pytest.mark.parametrize(("readings", "expected"), [
    ([], None), ([None], None), ([0.0], 0.0), ([None, 2.5], 2.5), ([1, None, None, 2, 3, None], 2.0),
])
def test_cases(readings, expected):
    assert mean_reading(readings) == expected
