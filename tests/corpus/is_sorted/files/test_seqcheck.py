from seqcheck import first_descent, is_sorted


def test_sorted():
    assert is_sorted([1, 2, 2, 3])


def test_unsorted():
    assert not is_sorted([1, 3, 2, 4])


def test_trivial():
    assert is_sorted([]) and is_sorted([5])


def test_descent():
    assert first_descent([1, 3, 2]) == 2
    assert first_descent([1, 2]) is None
