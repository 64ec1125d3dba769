def flatten(items):
    """Nested lists flattened depth-first into one list."""
    out = []
    for x in items:
        if isinstance(x, list):
            out.extend(flatten(x))
        else:
            out.append(x)
    return out
