def dedupe(items):
    """Items without repeats, first occurrence kept, order kept."""
    seen = set()
    out = []
    for x in items:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out
