from nesting import max_depth


def test_flat():
    assert max_depth("()()") == 1


def test_deep():
    assert max_depth("(a(b(c)))") == 3


def test_no_parens():
    assert max_depth("abc") == 0


def test_unclosed():
    assert max_depth("((") == -1


def test_early_close():
    assert max_depth(")(") == -1
