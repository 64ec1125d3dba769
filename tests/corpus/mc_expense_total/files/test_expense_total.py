from expense_total import total_by_category


def test_two_categories():
    text = "category,amount\nfood,12.50\ntravel,100\nfood,7.25\n"
    assert total_by_category(text) == {"food": 19.75, "travel": 100.0}


def test_header_only():
    assert total_by_category("category,amount\n") == {}


def test_single():
    assert total_by_category("category,amount\nx,1\n") == {"x": 1.0}
