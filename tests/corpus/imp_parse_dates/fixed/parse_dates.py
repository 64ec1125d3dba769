"""Parse the dates in exported bank statements."""

from datetime import datetime


def parse_statement_date(text):
    """'31/12/2023' -> a date object; surrounding whitespace is ignored."""
    return datetime.strptime(text.strip(), "%d/%m/%Y").date()


def days_between(first, second):
    """Whole days from the first statement date to the second."""
    return (parse_statement_date(second) - parse_statement_date(first)).days
