from lookup_price import basket_total, price_of


def test_known():
    assert price_of("Apple") == 0.5


def test_unknown():
    assert price_of("caviar") is None


def test_basket_skips_unknown():
    assert basket_total(["milk", "milk", "gold"]) == 2.2
