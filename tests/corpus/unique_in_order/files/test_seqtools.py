from seqtools import count_runs, unique_in_order


def test_runs():
    assert unique_in_order("AAABBBCCDAABB") == list("ABCDAB")


def test_numbers():
    assert unique_in_order([3, 3, 1, 1, 2]) == [3, 1, 2]


def test_count():
    assert count_runs([1, 1, 2, 1]) == 3
