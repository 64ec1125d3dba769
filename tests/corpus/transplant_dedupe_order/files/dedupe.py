"""Remove repeated lines."""


def normalize(line):
    """The comparison key of a line: stripped, case-folded."""
    return line.strip().casefold()


def dedupe_lines(lines):
    """The lines without repeats, keeping the first of each, in order."""
    keys = {}
    for line in lines:
        keys.setdefault(normalize(line), line)
    return sorted(set(keys.values()))
