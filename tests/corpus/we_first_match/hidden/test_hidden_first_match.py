from first_match import first_match


def test_empty_prefix_gives_first():
    assert first_match(["Zed", "Amy"], "") == "Zed"


def test_case_insensitive_prefix():
    assert first_match(["bob", "BOBBY"], "BOBB") == "BOBBY"


def test_generator_input():
    assert first_match((n for n in ["x", "y"]), "y") == "y"
    assert first_match(iter([]), "q") is None
