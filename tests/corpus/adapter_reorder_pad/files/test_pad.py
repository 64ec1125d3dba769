import pad


def test_pads_short_text():
    assert pad.pad_left("ab", 5) == "   ab"


def test_long_text_unchanged():
    assert pad.pad_left("abcdef", 3) == "abcdef"


def test_fill_character():
    assert pad.pad_left("7", 3, "0") == "007"


def test_column():
    assert pad.column([1, 22], 3) == "  1\n 22"
