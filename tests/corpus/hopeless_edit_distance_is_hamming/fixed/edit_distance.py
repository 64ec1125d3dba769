"""Fuzzy matching for the command-line 'did you mean' hint."""


def edit_distance(a, b):
    """The Levenshtein distance: fewest single-character insertions, deletions and
    substitutions turning a into b."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def suggest(word, commands):
    """The command closest to `word`, if it is at most 2 edits away."""
    best = min(commands, key=lambda c: edit_distance(word, c))
    return best if edit_distance(word, best) <= 2 else None
