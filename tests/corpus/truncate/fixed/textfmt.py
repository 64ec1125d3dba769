def truncate(s, width):
    """s cut to at most width characters, ending in '...' when cut."""
    if len(s) <= width:
        return s
    return s[:width - 3] + "..."


def pad(s, width):
    return s + " " * (width - len(s))
