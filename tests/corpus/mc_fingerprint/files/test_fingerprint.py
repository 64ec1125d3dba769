from fingerprint import fingerprint


def test_known_value():
    assert fingerprint("hello world") == "b94d27b9934d"


def test_whitespace_ignored():
    assert fingerprint(" hello \n world ") == fingerprint("hello world")


def test_length():
    assert len(fingerprint("x")) == 12
