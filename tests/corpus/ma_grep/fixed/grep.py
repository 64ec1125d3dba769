"""A tiny grep for the log viewer."""


def grep(lines, pattern, ignore_case=False):
    """The lines containing `pattern`, optionally ignoring case, in order."""
    if ignore_case:
        pattern = pattern.lower()
    matches = []
    for line in lines:
        haystack = line.lower() if ignore_case else line
        if pattern in haystack:
            matches.append(line)
    return matches
