from datetime import datetime

import pytest

from scheduler import next_run


@pytest.mark.parametrize(("spec", "after", "expected"), [
    ("00:00", datetime(2024, 12, 31, 0, 0), datetime(2025, 1, 1, 0, 0)),
    ("every 60m", datetime(2024, 1, 1, 23, 59), datetime(2024, 1, 2, 0, 0)),
    ("every 15m", datetime(2024, 1, 1, 10, 15), datetime(2024, 1, 1, 10, 30)),
    ("12:01", datetime(2024, 2, 28, 12, 0, 59), datetime(2024, 2, 28, 12, 1)),
])
def test_cases(spec, after, expected):
    assert next_run(spec, after) == expected
