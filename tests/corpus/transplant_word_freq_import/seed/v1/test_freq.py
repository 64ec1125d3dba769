from freq import top_words


def test_top():
    assert top_words("a b a", 1) == ["a"]
