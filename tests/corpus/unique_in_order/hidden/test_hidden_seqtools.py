from seqtools import count_runs, unique_in_order


def test_cases():
    assert unique_in_order([]) == []
    assert unique_in_order("AAAABBBCCDAABBB") == list("ABCDAB")
    assert unique_in_order([3, 2, 1]) == [3, 2, 1]
    assert unique_in_order([None, None, 0]) == [None, 0]
    assert count_runs("aabba") == 3
