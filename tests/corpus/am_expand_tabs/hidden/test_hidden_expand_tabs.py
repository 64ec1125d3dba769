from expand_tabs import clean_listing


def test_tabs_everywhere():
    assert clean_listing("\t\tif x:\t# c\t") == "        if x:    # c"


def test_zero_width():
    assert clean_listing("a\tb", tab_width=0) == "ab"


def test_no_tabs():
    assert clean_listing("plain") == "plain"
