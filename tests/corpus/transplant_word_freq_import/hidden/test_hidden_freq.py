from freq import top_words, total_words


def test_more():
    assert top_words("", 3) == []
    assert top_words("Hello, hello! World? world... zebra", 2) == ["hello", "world"]
    assert top_words("c b a", 5) == ["a", "b", "c"]
    assert top_words("x1y x", 1) == ["x"]
    assert total_words("  ") == 0
