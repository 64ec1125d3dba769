from clamp_page import clamp_page


def test_valid_page():
    assert clamp_page(3, 5) == 3


def test_missing_page():
    assert clamp_page(None, 5) == 1


def test_too_large():
    assert clamp_page(9, 5) == 1
