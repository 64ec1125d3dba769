from dedupe import dedupe


def test_order_and_first_occurrence():
    assert dedupe([3, 1, 3, 2, 1, 3]) == [3, 1, 2]
    assert dedupe([]) == []
    assert dedupe("abracadabra") == ["a", "b", "r", "c", "d"]
    assert dedupe([1, 1.0, True]) == [1]
