from wordfreq import most_common, word_counts, words


def test_words():
    assert words("a b, c") == ["a", "b", "c"]


def test_case_folded():
    assert word_counts("The the THE") == {"the": 3}


def test_most_common():
    assert most_common("b a b c a b", 2) == [("b", 3), ("a", 2)]


def test_mixed():
    assert word_counts("Hi hi") == {"hi": 2}
