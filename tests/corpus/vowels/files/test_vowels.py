from vowels import count_vowels, strip_vowels


def test_count():
    assert count_vowels("Hello World") == 3


def test_count_caps():
    assert count_vowels("AEIOUxyz") == 5


def test_strip():
    assert strip_vowels("Banana") == "Bnn"
