from brackets import balanced


def test_empty():
    assert balanced("")


def test_nested():
    assert balanced("a(b[c]{d})")


def test_wrong_order():
    assert not balanced("(]")


def test_unclosed():
    assert not balanced("((")


def test_stray_closer():
    assert not balanced("())")
