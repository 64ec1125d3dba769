import pytest

from duration import to_seconds


def test_hours_minutes():
    assert to_seconds("1h30m") == 5400


def test_seconds():
    assert to_seconds("45s") == 45


def test_bad():
    with pytest.raises(ValueError):
        to_seconds("soon")
