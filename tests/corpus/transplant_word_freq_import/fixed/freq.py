"""Word frequencies."""

import re
from collections import Counter


def top_words(text, n=3):
    """The `n` most frequent words (lower-cased, letters only), ties alphabetical."""
    counts = Counter(re.findall(r"[a-z]+", text.lower()))
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [word for word, _ in ranked[:n]]


def total_words(text):
    """How many words `text` holds."""
    return len(text.split())
