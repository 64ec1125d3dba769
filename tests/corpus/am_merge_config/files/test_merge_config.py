from merge_config import DEFAULTS, merge_config


def test_override():
    assert merge_config({"theme": "dark"})["theme"] == "dark"


def test_defaults_kept():
    assert merge_config({}) == DEFAULTS


def test_new_key():
    assert merge_config({"lang": "de"})["lang"] == "de"
