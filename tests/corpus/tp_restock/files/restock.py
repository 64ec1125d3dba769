"""Purchase suggestions for the warehouse."""


def restock_orders(stock, minimum, batch=10):
    """Map each item whose quantity is below `minimum` to how many to order:
    at least `batch`, and at least enough to reach the minimum."""
    orders = {}
    for item, qty in stock.items():
        if qty <= minimum:
            orders[item] = min(batch, minimum - qty)
    return orders
