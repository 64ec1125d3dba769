from wrap import wrap


def test_short_text_is_one_line():
    assert wrap("hello world", max_width=20) == ["hello world"]


def test_breaks_between_words():
    assert wrap("the quick brown fox", max_width=10) == ["the quick", "brown fox"]


def test_long_word_stays_whole():
    assert wrap("abcdefghijkl x", max_width=5) == ["abcdefghijkl", "x"]
