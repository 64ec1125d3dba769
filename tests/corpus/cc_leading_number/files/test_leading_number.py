from leading_number import leading_number


def test_prefix():
    assert leading_number("42abc") == 42


def test_all_digits():
    assert leading_number("2024") == 2024


def test_no_number():
    assert leading_number("rc1") is None
