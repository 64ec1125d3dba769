from digits import count_digits, digit_sum


def test_zero():
    assert count_digits(0) == 1


def test_three():
    assert count_digits(507) == 3


def test_power_of_ten():
    assert count_digits(1000) == 4


def test_digit_sum():
    assert digit_sum(507) == 12
