"""Durations such as '1h30m'."""

import re

_PART = re.compile(r"(\d+)([hms])")
_FACTORS = {"h": 3600, "m": 60, "s": 1}


def parse_duration(text):
    """Seconds in a duration like '2h', '90s' or '1h30m15s'."""
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"bad duration: {text!r}")
    return sum(int(n) * _FACTORS[u] for n, u in parts)
