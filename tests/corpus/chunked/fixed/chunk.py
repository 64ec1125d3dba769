def chunked(xs, size):
    """xs split into lists of `size` items; the last may be shorter."""
    if size <= 0:
        raise ValueError("size must be positive")
    return [xs[i:i + size] for i in range(0, len(xs), size)]
