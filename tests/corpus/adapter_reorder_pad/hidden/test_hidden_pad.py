import pad


def test_more_widths():
    assert pad.pad_left("", 2) == "  "
    assert pad.pad_left("abc", 3) == "abc"
    assert pad.pad_left("x", 4, "*") == "***x"
    assert pad.column([], 3) == ""
    assert pad.column([1234, 5], 2) == "1234\n 5"
