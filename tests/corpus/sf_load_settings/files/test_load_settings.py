import pytest

from load_settings import DEFAULTS, load_settings


def test_override():
    assert load_settings('{"width": 120}')["width"] == 120


def test_blank_gives_defaults():
    assert load_settings("  ") == DEFAULTS


def test_not_an_object():
    with pytest.raises(ValueError):
        load_settings("[1, 2]")
