import pytest

from duration import parse_duration


def test_hours_minutes_seconds():
    assert parse_duration("1h30m15s") == 5415


def test_seconds_only():
    assert parse_duration("90s") == 90


def test_garbage():
    with pytest.raises(ValueError):
        parse_duration("soon")
