"""Autocomplete: the word being typed."""


def last_word(text):
    """The last whitespace-separated word of `text`, or '' when there is none."""
    words = text.split()
    return words[-1]


def completion_prefix(text):
    """The lower-cased last word, which the completer matches against."""
    return last_word(text).lower()
