"""Fuzzy matching for the command-line 'did you mean' hint."""


def edit_distance(a, b):
    """The Levenshtein distance: fewest single-character insertions, deletions and
    substitutions turning a into b."""
    distance = abs(len(a) - len(b))
    for x, y in zip(a, b):
        if x != y:
            distance += 1
    return distance


def suggest(word, commands):
    """The command closest to `word`, if it is at most 2 edits away."""
    best = min(commands, key=lambda c: edit_distance(word, c))
    return best if edit_distance(word, best) <= 2 else None
