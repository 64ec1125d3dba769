"""Avatar placeholders for users without a photo."""


def initials(full_name):
    """The upper-case initials of a name: 'ada lovelace' -> 'AL'."""
    return "".join(part[:1].upper() for part in full_name.split())
