"""Daily sales report for the accounting export."""


def sales_report(sales):
    """The report as JSON text: {"lines": [{"item": ..., "qty": ..., "total": ...}], "grand_total": ...},
    lines sorted by item; total = qty * unit price, rounded to cents."""
    rows = ["item,qty,total"]
    for sale in sales:
        rows.append(f"{sale['item']},{sale['qty']},{sale['qty'] * sale['price']}")
    return "\n".join(rows)
