"""Date handling for the invoice generator."""

from datetime import date, datetime


def format_due_date(day):
    """An ISO date string like '2024-03-31' for a date."""
    return day.strftime("%Y-%m-%d")


def parse_due_date(text):
    """The date of an ISO date string."""
    return datetime.strptime(text, "%Y-%m-%d").date()


def next_invoice_label(day):
    """'INV-2024-03-31'."""
    return "INV-" + format_due_date(day)


__all__ = ["date", "format_due_date", "next_invoice_label", "parse_due_date"]
