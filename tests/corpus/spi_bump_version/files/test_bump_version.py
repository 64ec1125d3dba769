import pytest

from bump_version import bump_patch


def test_simple():
    assert bump_patch("1.4.9") == "1.4.10"


def test_zero():
    assert bump_patch("0.0.0") == "0.0.1"


def test_bad_version():
    with pytest.raises(ValueError):
        bump_patch("1.4")
