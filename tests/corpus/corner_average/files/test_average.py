from average import average_order_value


def test_mean():
    assert average_order_value([{"total": 10}, {"total": 20}]) == 15.0


def test_no_orders():
    assert average_order_value([]) == 0.0


def test_rounding():
    assert average_order_value([{"total": 1}, {"total": 1}, {"total": 2}]) == 1.33
