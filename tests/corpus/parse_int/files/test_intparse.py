import pytest

from intparse import parse_int


def test_plain():
    assert parse_int("42") == 42


def test_spaces_and_sign():
    assert parse_int("  -7 ") == -7


def test_none():
    assert parse_int(None) is None


def test_garbage():
    with pytest.raises(ValueError):
        parse_int("4x")
