"""Search helpers for the contact book."""


def first_match(contacts, prefix):
    """The first contact name starting with `prefix` (case-insensitive), or None."""
    matches = (c for c in contacts if c.lower().startswith(prefix.lower()))
    try:
        return next(matches)
    except StopIteration:
        return None
