from collections import Counter

from word_freq import word_frequencies


def test_against_counter():
    text = "It was the best of times, it was the worst of times; 42 ... it WAS."
    words = ["".join(c for c in w.lower() if c.isalpha()) for w in text.split()]
    assert word_frequencies(text) == dict(Counter(w for w in words if w))


def test_numbers_only():
    assert word_frequencies("1 2 3") == {}
