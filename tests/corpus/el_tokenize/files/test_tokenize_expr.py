from tokenize_expr import tokenize


def test_no_spaces():
    assert tokenize("1+22") == ["1", "+", "22"]


def test_spaces():
    assert tokenize("12 + 3") == ["12", "+", "3"]


def test_parens():
    assert tokenize("(4) * 5") == ["(", "4", ")", "*", "5"]
