from capitalize import capitalize_first, headline


def test_first_letter():
    assert capitalize_first("hello World") == "Hello World"


def test_empty():
    assert capitalize_first("") == ""


def test_headline_without_words():
    assert headline([]) == ""
