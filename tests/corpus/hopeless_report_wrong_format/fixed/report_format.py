"""Daily sales report for the accounting export."""

import json


def sales_report(sales):
    """The report as JSON text: {"lines": [{"item": ..., "qty": ..., "total": ...}], "grand_total": ...},
    lines sorted by item; total = qty * unit price, rounded to cents."""
    lines = [{"item": s["item"], "qty": s["qty"], "total": round(s["qty"] * s["price"], 2)}
             for s in sorted(sales, key=lambda s: s["item"])]
    return json.dumps({"lines": lines, "grand_total": round(sum(line["total"] for line in lines), 2)})
