"""Order statistics for the shop admin."""


def average_order_value(orders):
    """Mean of the orders' 'total' field, rounded to cents; 0.0 when there are no orders."""
    return round(sum(o["total"] for o in orders) / len(orders), 2)
