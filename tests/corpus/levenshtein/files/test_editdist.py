from editdist import distance


def test_same():
    assert distance("abc", "abc") == 0


def test_kitten():
    assert distance("kitten", "sitting") == 3


def test_empty():
    assert distance("", "abc") == 3


def test_insert_one():
    assert distance("ab", "abc") == 1
