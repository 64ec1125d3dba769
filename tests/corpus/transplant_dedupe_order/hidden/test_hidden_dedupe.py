from dedupe import dedupe_lines


def test_more():
    assert dedupe_lines([]) == []
    assert dedupe_lines(["x"]) == ["x"]
    assert dedupe_lines(["B", "a", " b", "A ", "c"]) == ["B", "a", "c"]
    assert dedupe_lines(["z", "y", "x", "Z"]) == ["z", "y", "x"]
