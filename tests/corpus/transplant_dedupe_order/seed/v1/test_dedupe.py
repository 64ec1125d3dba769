from dedupe import dedupe_lines


def test_order():
    assert dedupe_lines(["b", "a", "b"]) == ["b", "a"]
