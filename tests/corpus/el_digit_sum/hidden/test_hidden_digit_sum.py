import pytest

from digit_sum import digit_sum, is_valid_account


@pytest.mark.parametrize("n", [1, 9, 10, 99, 1000001, 987654321, 2**64])
def test_against_str(n):
    assert digit_sum(n) == sum(int(ch) for ch in str(n))


def test_invalid_account():
    assert is_valid_account(919) is False
