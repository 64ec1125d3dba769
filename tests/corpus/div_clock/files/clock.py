"""Track durations for the podcast player."""


def format_duration(seconds):
    """'m:ss' for a duration in whole seconds, e.g. 150 -> '2:30'."""
    minutes = seconds / 60
    rest = seconds % 60
    return f"{minutes}:{rest:02d}"
