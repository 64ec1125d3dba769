from load_users import load_users


def test_plain_rows():
    assert load_users([["1", "Ann", "a@x"]]) == [{"id": 1, "name": "Ann", "email": "a@x"}]


def test_header_skipped():
    rows = [["id", "name", "email"], ["2", "Bo", "b@x"]]
    assert load_users(rows) == [{"id": 2, "name": "Bo", "email": "b@x"}]


def test_only_header():
    assert load_users([["id", "name", "email"]]) == []
