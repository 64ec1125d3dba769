from expense_total import total_by_category


def test_rounding_to_cents():
    text = "category,amount\na,0.1\na,0.2\nb,-3.333\n"
    assert total_by_category(text) == {"a": 0.3, "b": -3.33}


def test_column_order_does_not_matter():
    assert total_by_category("amount,category\n5,z\n6,z\n") == {"z": 11.0}
