"""Split sequences into pieces."""


def chunks(items, size):
    """Consecutive slices of `items` of length `size` (the last may be shorter)."""
    if size < 1:
        raise ValueError("size must be positive")
    return [items[i : i + size] for i in range(0, len(items), size)]


def flatten(pieces):
    """The inverse of chunks."""
    return [x for piece in pieces for x in piece]


chunked = chunks
