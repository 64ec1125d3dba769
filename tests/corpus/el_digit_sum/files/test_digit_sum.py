from digit_sum import digit_sum, is_valid_account


def test_digit_sum():
    assert digit_sum(1234) == 10


def test_zero():
    assert digit_sum(0) == 0


def test_valid_account():
    assert is_valid_account(918) is True
