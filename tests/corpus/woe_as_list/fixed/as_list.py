"""Normalising config values that may be a single item or a list."""


def as_list(value):
    """`value` as a list: None -> [], a list or tuple -> a list of its items,
    anything else -> a one-element list."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]
