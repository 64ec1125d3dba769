"""Parsing helpers for version strings like '12rc1'."""


def leading_number(text):
    """The integer at the start of `text` ('42abc' -> 42), or None if it starts otherwise."""
    i = 0
    while text[i].isdigit():
        i += 1
    return int(text[:i]) if i else None
