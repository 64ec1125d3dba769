from inventory.report import load, low_stock, total_value

ROWS = [("nut", "0.5", "100"), ("bolt", "1.25", "4"), ("gear", "10", "1")]


def test_total():
    assert total_value(load(ROWS)) == 50 + 5 + 10


def test_low_stock():
    assert low_stock(load(ROWS), 5) == ["bolt", "gear"]


def test_none_low():
    assert low_stock(load(ROWS), 1) == []
