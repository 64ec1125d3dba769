"""Fiscal calendar helpers for the sales report."""


def quarter(month):
    """The calendar quarter (1-4) of a month number (1-12)."""
    if not 1 <= month <= 12:
        raise ValueError(f"month out of range: {month}")
    return (month - 1) // 3 + 1


def quarter_label(year, month):
    """A label like '2024-Q3'."""
    return f"{year}-Q{quarter(month)}"
