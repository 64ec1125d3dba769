"""Text statistics for the editor's status bar."""


def longest_word_length(text):
    """Length of the longest whitespace-separated word in text (0 when there is none)."""
    return max((word for word in text.split()), default=0)
