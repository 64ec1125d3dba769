import pytest

from cache_expiry import expires_at, is_expired


@pytest.mark.parametrize("days", [0, 1, 2, 30, 365])
def test_expiry(days):
    assert expires_at(1_700_000_000, days) == 1_700_000_000 + days * 24 * 60 * 60


def test_boundary():
    assert is_expired(0, 1, 86399) is False
    assert is_expired(0, 1, 86400) is True


def test_half_day_ttl():
    assert expires_at(0, 0.5) == 43200
