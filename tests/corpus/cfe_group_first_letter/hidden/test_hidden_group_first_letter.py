from collections import defaultdict

from group_first_letter import group_by_first_letter


def reference(words):
    out = defaultdict(list)
    for w in words:
        if w:
            out[w[0].lower()].append(w)
    return dict(out)


def test_matches_reference():
    samples = [[], [""], ["a"], ["b", "B", "b"], "the quick brown fox jumps over the lazy dog".split(),
               ["Zed", "zoo", "", "Apple", "ant"]]
    for words in samples:
        assert group_by_first_letter(words) == reference(words)
