"""Remove repeated lines."""


def normalize(line):
    """The comparison key of a line."""
    return line.strip().casefold()


def dedupe_lines(lines):
    """The lines without repeats, keeping the first of each, in order."""
    seen = set()
    kept = []
    for line in lines:
        key = normalize(line)
        if key not in seen:
            seen.add(key)
            kept.append(line)
    return kept
