from bitset import BitSet


def test_membership_matches_a_set():
    b, s = BitSet(), set()
    for i in [0, 3, 7, 64, 3, 100, 1]:
        b.add(i)
        s.add(i)
    b.discard(7)
    s.discard(7)
    for i in range(110):
        assert (i in b) == (i in s)
    assert len(b) == len(s)
