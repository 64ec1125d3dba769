import re


def words(text):
    return re.findall(r"[A-Za-z']+", text)


def word_counts(text):
    """Case-insensitive word frequencies, keys lower-case."""
    counts = {}
    for w in words(text):
        key = w.lower()
        counts[key] = counts.get(key, 0) + 1
    return counts


def most_common(text, n):
    counts = word_counts(text)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
