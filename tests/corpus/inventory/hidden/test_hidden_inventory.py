from inventory.report import load, low_stock, total_value


def test_threshold_is_exclusive():
    items = load([("a", "1.0", "5"), ("b", "2.0", "4"), ("c", "3", "0"), ("d", "1", "6")])
    assert low_stock(items, 5) == ["b", "c"]
    assert low_stock(items, 0) == []
    assert low_stock([], 3) == []
    assert total_value(items) == 19.0
