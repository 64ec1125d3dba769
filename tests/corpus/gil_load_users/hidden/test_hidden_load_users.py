from load_users import load_users


def test_bad_rows_in_the_middle():
    rows = [["1", "A", "a"], ["", "blank", "x"], ["n/a", "B", "b"], ["3", " C ", " c "]]
    assert load_users(rows) == [{"id": 1, "name": "A", "email": "a"}, {"id": 3, "name": "C", "email": "c"}]


def test_empty():
    assert load_users([]) == []
