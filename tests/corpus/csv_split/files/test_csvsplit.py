from csvsplit import split_row


def test_plain():
    assert split_row("a,b,c") == ["a", "b", "c"]


def test_quoted_comma():
    assert split_row('x,"y,z"') == ["x", "y,z"]


def test_empty_fields():
    assert split_row(",,") == ["", "", ""]


def test_single():
    assert split_row("solo") == ["solo"]
