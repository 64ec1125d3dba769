from validate import valid_username


def test_ok():
    assert valid_username("alice99")


def test_mixed_case_ok():
    assert valid_username("BobSmith")


def test_too_short():
    assert not valid_username("al")


def test_starts_with_digit():
    assert not valid_username("9lives")


def test_symbols():
    assert not valid_username("a-b-c")
