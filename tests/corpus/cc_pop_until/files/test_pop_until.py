from pop_until import pop_until


def test_stops_at_marker():
    stack = ["(", 1, 2]
    assert pop_until(stack, "(") == [2, 1]
    assert stack == ["("]


def test_marker_absent_empties_stack():
    stack = [1, 2, 3]
    assert pop_until(stack, "(") == [3, 2, 1]
    assert stack == []


def test_empty_stack():
    assert pop_until([], "(") == []
