"""Expense report totals from CSV exports."""

import csv
import io


def total_by_category(csv_text):
    """Sum of the 'amount' column per 'category', rounded to cents."""
    totals = {}
    for row in csv.DictReader(io.StringIO(csv_text)):
        category = row["category"]
        totals[category] = totals.get(category, 0) + float(row["amount"])
    return {k: round(v, 2) for k, v in totals.items()}
