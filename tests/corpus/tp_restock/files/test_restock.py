from restock import restock_orders


def test_small_shortfall_orders_a_batch():
    assert restock_orders({"bolts": 18}, minimum=20) == {"bolts": 10}


def test_big_shortfall():
    assert restock_orders({"nuts": 0}, minimum=50) == {"nuts": 50}


def test_at_minimum_is_fine():
    assert restock_orders({"pins": 20}, minimum=20) == {}
