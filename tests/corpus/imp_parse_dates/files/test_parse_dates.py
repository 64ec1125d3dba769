import datetime as dt

from parse_dates import days_between, parse_statement_date


def test_parse():
    assert parse_statement_date("31/12/2023") == dt.date(2023, 12, 31)


def test_whitespace():
    assert parse_statement_date(" 01/02/2024\n") == dt.date(2024, 2, 1)


def test_days_between():
    assert days_between("28/02/2024", "01/03/2024") == 2
