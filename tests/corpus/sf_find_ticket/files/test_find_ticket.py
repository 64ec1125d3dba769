from find_ticket import find_ticket


def test_at_start():
    assert find_ticket("OPS-142 fix login") == "OPS-142"


def test_in_the_middle():
    assert find_ticket("fix login (OPS-142)") == "OPS-142"


def test_none():
    assert find_ticket("typo") is None
