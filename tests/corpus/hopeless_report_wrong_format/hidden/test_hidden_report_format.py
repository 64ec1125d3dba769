import json

from report_format import sales_report


def test_rounding_and_totals():
    sales = [{"item": "x", "qty": 3, "price": 0.1}, {"item": "w", "qty": 1, "price": 9.999}]
    report = json.loads(sales_report(sales))
    assert report == {"lines": [{"item": "w", "qty": 1, "total": 10.0}, {"item": "x", "qty": 3, "total": 0.3}],
                      "grand_total": 10.3}
