"""Lenient parsing of form fields."""


def to_int(value, default=None):
    """`value` as an int, or `default` when it is not a valid integer string."""
    try:
        return int(str(value).strip())
    except ValueError:
        return default
