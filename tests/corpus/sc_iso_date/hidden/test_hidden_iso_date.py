from datetime import date, timedelta

from iso_date import format_due_date, parse_due_date


def test_matches_isoformat_for_a_year_of_days():
    day = date(2023, 1, 1)
    for _ in range(366):
        assert format_due_date(day) == day.isoformat()
        assert parse_due_date(day.isoformat()) == day
        day += timedelta(days=1)
