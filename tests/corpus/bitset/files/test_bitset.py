from bitset import BitSet


def test_add_contains():
    s = BitSet()
    s.add(3)
    assert 3 in s and 2 not in s


def test_discard():
    s = BitSet()
    s.add(1)
    s.add(5)
    s.discard(1)
    assert 1 not in s and 5 in s


def test_len():
    s = BitSet()
    for i in (0, 4, 9):
        s.add(i)
    assert len(s) == 3
