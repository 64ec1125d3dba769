from anagrams import group_anagrams


def test_groups():
    assert group_anagrams(["eat", "tea", "tan", "ate", "nat"]) == [["eat", "tea", "ate"], ["tan", "nat"]]


def test_single():
    assert group_anagrams(["abc"]) == [["abc"]]


def test_empty():
    assert group_anagrams([]) == []
