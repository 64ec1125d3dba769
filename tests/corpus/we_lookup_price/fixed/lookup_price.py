"""Price lookups for the point-of-sale terminal."""

PRICES = {"apple": 0.5, "bread": 2.25, "milk": 1.1}


def price_of(item, prices=PRICES):
    """The price of `item` (case-insensitive), or None for an unknown item."""
    try:
        return prices[item.strip().lower()]
    except KeyError:
        return None


def basket_total(items, prices=PRICES):
    """Total of the known items; unknown ones are skipped."""
    return round(sum(p for p in (price_of(i, prices) for i in items) if p is not None), 2)
