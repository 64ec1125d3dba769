from word_freq import word_frequencies


def test_counts():
    assert word_frequencies("the cat and the hat") == {"the": 2, "cat": 1, "and": 1, "hat": 1}


def test_punctuation_and_case():
    assert word_frequencies("Hi! hi, HI.") == {"hi": 3}


def test_empty():
    assert word_frequencies("") == {}
