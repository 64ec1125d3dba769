import pytest

from ms_delay import backoff_ms


@pytest.mark.parametrize(("attempt", "expected"), [(1, 1000), (3, 4000), (5, 16000), (6, 30000)])
def test_schedule(attempt, expected):
    assert backoff_ms(attempt) == expected


def test_custom_base_and_cap():
    assert backoff_ms(0, base_seconds=0.001) == 1
    assert backoff_ms(4, base_seconds=1, cap_seconds=10) == 10000
