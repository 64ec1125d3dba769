from expand_tabs import clean_listing


def test_tabs():
    assert clean_listing("\tx = 1") == "    x = 1"


def test_tab_width():
    assert clean_listing("\ty", tab_width=2) == "  y"


def test_trailing_spaces():
    assert clean_listing("a  \nb ") == "a\nb"
