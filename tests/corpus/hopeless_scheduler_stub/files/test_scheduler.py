from datetime import datetime

from scheduler import next_run


def test_daily_later_today():
    assert next_run("23:30", datetime(2024, 5, 1, 10, 0)) == datetime(2024, 5, 1, 23, 30)


def test_daily_tomorrow():
    assert next_run("06:00", datetime(2024, 5, 1, 7, 0)) == datetime(2024, 5, 2, 6, 0)


def test_every_fifteen_minutes():
    assert next_run("every 15m", datetime(2024, 5, 1, 10, 7)) == datetime(2024, 5, 1, 10, 15)
