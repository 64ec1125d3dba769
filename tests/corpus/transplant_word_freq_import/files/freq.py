"""Word frequencies."""


def top_words(text, n=3):
    """The `n` most frequent words (lower-cased, letters only), ties alphabetical."""
    counts = {}
    for word in text.split(" "):
        counts[word] = counts.get(word, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: kv[1], reverse=True)
    return [word for word, _ in ranked[:n]]


def total_words(text):
    """How many words `text` holds."""
    return len(text.split())
