from iso_date import date, format_due_date, next_invoice_label, parse_due_date


def test_format():
    assert format_due_date(date(2024, 3, 31)) == "2024-03-31"


def test_label():
    assert next_invoice_label(date(2023, 1, 15)) == "INV-2023-01-15"


def test_parse():
    assert parse_due_date("2024-12-01") == date(2024, 12, 1)
