from collapse_repeats import collapse_repeats


def test_runs_collapse():
    assert collapse_repeats([1, 1, 2, 2, 2, 1]) == [1, 2, 1]


def test_strings():
    assert collapse_repeats("aaabcc") == ["a", "b", "c"]


def test_no_repeats_unchanged():
    assert collapse_repeats([3, 1, 2]) == [3, 1, 2]
