"""Durations such as '1h30m'."""


def parse_duration(text):
    """Seconds in a duration like '2h', '90s' or '1h30m15s'."""
    raise NotImplementedError("parse_duration")
