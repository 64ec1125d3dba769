from freq import top_words, total_words


def test_counts_case_insensitively():
    assert top_words("The cat. the dog, THE end", 1) == ["the"]


def test_ties_alphabetical():
    assert top_words("b a c b a c d", 3) == ["a", "b", "c"]


def test_total():
    assert total_words("one two  three") == 3
