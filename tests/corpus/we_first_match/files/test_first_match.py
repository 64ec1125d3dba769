from first_match import first_match


def test_found():
    assert first_match(["Alice", "Bob", "Albert"], "al") == "Alice"


def test_not_found():
    assert first_match(["Alice"], "z") is None


def test_empty_book():
    assert first_match([], "a") is None
