from names import full_name, initials


def test_plain():
    assert full_name("Ada", "Lovelace") == "Ada Lovelace"


def test_middle():
    assert full_name("John", "Smith", "Q") == "John Q Smith"


def test_initials():
    assert initials("Grace", "Hopper") == "G.H."
