"""Settings for the CLI, read from a JSON string with defaults."""

import json

DEFAULTS = {"color": True, "pager": "less", "width": 80}


def load_settings(text):
    """Parse JSON settings text and fill in DEFAULTS for missing keys.

    Raises ValueError if the text is not a JSON object.
    """
    data = json.load(text) if text.strip() else {}
    if not isinstance(data, dict):
        raise ValueError("settings must be a JSON object")
    return {**DEFAULTS, **data}
