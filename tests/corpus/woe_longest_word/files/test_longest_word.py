from longest_word import longest_word_length


def test_sentence():
    assert longest_word_length("the quick brown fox") == 5


def test_empty():
    assert longest_word_length("") == 0


def test_one_word():
    assert longest_word_length("hello") == 5
