import datetime as dt

import pytest

from parse_dates import days_between, parse_statement_date


def test_invalid_raises():
    with pytest.raises(ValueError):
        parse_statement_date("2024-01-01")


def test_negative_span():
    assert days_between("10/01/2024", "01/01/2024") == -9


def test_returns_a_date_not_a_datetime():
    got = parse_statement_date("05/06/2007")
    assert type(got) is dt.date and got == dt.date(2007, 6, 5)
