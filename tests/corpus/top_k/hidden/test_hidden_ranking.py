from ranking import top_k


def test_best_first():
    scores = {"a": 3, "b": 9, "c": 1, "d": 7}
    assert top_k(scores, 2) == [("b", 9), ("d", 7)]
    assert top_k(scores, 0) == []
    assert top_k(scores, 10) == [("b", 9), ("d", 7), ("a", 3), ("c", 1)]
    assert top_k({}, 3) == []
