from restock import restock_orders


def test_mixed_stock():
    stock = {"a": 0, "b": 5, "c": 6, "d": 100}
    assert restock_orders(stock, minimum=6, batch=3) == {"a": 6, "b": 3}


def test_empty():
    assert restock_orders({}, minimum=5) == {}


def test_negative_stock():
    assert restock_orders({"x": -4}, minimum=10) == {"x": 14}
