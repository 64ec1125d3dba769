import json

import pytest

from load_settings import DEFAULTS, load_settings


def test_all_keys_kept():
    got = load_settings(json.dumps({"color": False, "extra": [1]}))
    assert got == {"color": False, "pager": "less", "width": 80, "extra": [1]}


def test_empty_object():
    assert load_settings("{}") == DEFAULTS


def test_invalid_json_is_value_error():
    with pytest.raises(ValueError):
        load_settings("{nope")


def test_defaults_not_mutated():
    load_settings('{"width": 1}')
    assert DEFAULTS["width"] == 80
