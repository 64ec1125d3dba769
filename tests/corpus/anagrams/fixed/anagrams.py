def group_anagrams(words):
    """Words grouped by their letters, groups in order of first appearance."""
    groups = {}
    for w in words:
        key = "".join(sorted(w))
        groups.setdefault(key, []).append(w)
    return list(groups.values())
