from pop_until import pop_until


def test_marker_on_top_pops_nothing():
    stack = [1, "("]
    assert pop_until(stack, "(") == []
    assert stack == [1, "("]


def test_nearest_marker_wins():
    stack = ["(", "a", "(", "b", "c"]
    assert pop_until(stack, "(") == ["c", "b"]
    assert stack == ["(", "a", "("]


def test_falsy_items_are_popped_too():
    stack = ["[", 0, None, ""]
    assert pop_until(stack, "[") == ["", None, 0]
    assert pop_until([0, 0], "[") == [0, 0]
