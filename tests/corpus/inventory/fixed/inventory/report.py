from inventory.models import Item


def total_value(items):
    return sum(item.value() for item in items)


def low_stock(items, threshold):
    """Names of items with fewer than threshold in stock, sorted."""
    return sorted(item.name for item in items if item.qty < threshold)


def load(rows):
    return [Item(name, float(price), int(qty)) for name, price, qty in rows]
