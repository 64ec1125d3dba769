from caesar import caesar


def test_shift_lowercase():
    assert caesar("abc", 1) == "bcd"


def test_wraps_around():
    assert caesar("xyz", 3) == "abc"


def test_keeps_case_and_punctuation():
    assert caesar("Hello, World!", 13) == "Uryyb, Jbeyq!"
