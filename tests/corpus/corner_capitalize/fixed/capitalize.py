"""Headline formatting for the newsletter."""


def capitalize_first(text):
    """`text` with its first character upper-cased and the rest unchanged ('' stays '')."""
    if not text:
        return text
    return text[0].upper() + text[1:]


def headline(words):
    """The words joined by spaces, first letter capitalised."""
    return capitalize_first(" ".join(words))
