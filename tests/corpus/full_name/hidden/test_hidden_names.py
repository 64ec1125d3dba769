from names import full_name, initials


def test_names():
    assert full_name("Ada", "Lovelace") == "Ada Lovelace"
    assert full_name("A", "B", "C") == "A C B"
    assert full_name("Solo", "") == "Solo "
    assert initials("Ada", "Lovelace") == "A.L."
