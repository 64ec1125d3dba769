from initials import initials


def test_two_names():
    assert initials("ada lovelace") == "AL"


def test_three_names():
    assert initials("Grace Brewster Hopper") == "GBH"


def test_single_letter_name():
    assert initials("x") == "X"
