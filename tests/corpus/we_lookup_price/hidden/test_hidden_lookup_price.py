from lookup_price import basket_total, price_of


def test_custom_table():
    assert price_of(" X ", {"x": 9}) == 9
    assert price_of("y", {"x": 9}) is None


def test_empty_basket():
    assert basket_total([]) == 0


def test_all_unknown():
    assert basket_total(["a", "b"]) == 0
