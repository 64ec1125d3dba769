from wordfreq import most_common, word_counts


def test_counts():
    assert word_counts("") == {}
    assert word_counts("The the THE cat's") == {"the": 3, "cat's": 1}
    assert most_common("b a b a c", 2) == [("a", 2), ("b", 2)]
