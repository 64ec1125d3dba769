"""Layered configuration: defaults, then the user's overrides."""

DEFAULTS = {"theme": "light", "font_size": 12, "autosave": True}


def merge_config(overrides):
    """A new dict of DEFAULTS updated with `overrides` (DEFAULTS is never modified)."""
    merged = dict(DEFAULTS)
    merged.update(overrides)
    return merged
