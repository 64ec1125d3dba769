"""Path helpers for the archive browser."""


def common_prefix(paths):
    """The longest common leading string of all paths ('' for no paths)."""
    if not paths:
        return ""
    prefix = paths[0]
    for path in paths[1:]:
        while not path.startswith(prefix):
            prefix = prefix[:-1]
    return prefix
