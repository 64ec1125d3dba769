import json

from report_format import sales_report


def test_is_json():
    report = json.loads(sales_report([{"item": "pen", "qty": 2, "price": 1.5}]))
    assert report["grand_total"] == 3.0


def test_lines_sorted():
    sales = [{"item": "b", "qty": 1, "price": 1}, {"item": "a", "qty": 1, "price": 2}]
    report = json.loads(sales_report(sales))
    assert [line["item"] for line in report["lines"]] == ["a", "b"]


def test_empty():
    assert json.loads(sales_report([])) == {"lines": [], "grand_total": 0}
