from merge_config import DEFAULTS, merge_config


def test_defaults_untouched():
    merge_config({"theme": "dark", "x": 1})
    assert DEFAULTS == {"theme": "light", "font_size": 12, "autosave": True}


def test_result_is_a_copy():
    assert merge_config({}) is not DEFAULTS


def test_full_result():
    assert merge_config({"font_size": 14}) == {"theme": "light", "font_size": 14, "autosave": True}
