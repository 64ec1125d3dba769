import pytest

from digits import count_digits, digit_sum


@pytest.mark.parametrize("n", [0, 1, 9, 10, 99, 100, 12345, 10 ** 20, 10 ** 20 - 1])
def test_matches_str(n):
    assert count_digits(n) == len(str(n))


def test_digit_sum():
    assert digit_sum(909) == 18
