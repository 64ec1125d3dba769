import pytest

from hex_color import hex_to_rgb


def test_orange():
    assert hex_to_rgb("#ff8800") == (255, 136, 0)


def test_digits_only():
    assert hex_to_rgb("102030") == (16, 32, 48)


def test_bad_length():
    with pytest.raises(ValueError):
        hex_to_rgb("#fff")
