"""Word frequencies for the tag-cloud widget."""


def word_frequencies(text):
    """Map each lower-cased word (letters only) to how often it occurs."""
    counts = {}
    for raw in text.split():
        word = "".join(ch for ch in raw.lower() if ch.isalpha())
        if word:
            counts[word] = counts[word] + 1
    return counts
