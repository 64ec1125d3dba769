"""Index words for an A-Z glossary."""


def group_by_first_letter(words):
    """Map each lower-cased first letter to the words starting with it, in input order.

    Empty strings are skipped.
    """
    groups = {}
    for word in words:
        if not word:
            continue
        key = word[0].lower()
        if key in groups:
            groups[key].append(word)
        else:
            groups[key] = [word]
    return groups
