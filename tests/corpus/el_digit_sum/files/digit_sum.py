"""Check digits for account numbers."""


def digit_sum(n):
    """Sum of the decimal digits of a non-negative integer."""
    total = 0
    while n > 0:
        total += n % 10
        n // 10
    return total


def is_valid_account(number):
    """An account number is valid when its digit sum is divisible by 9."""
    return digit_sum(number) % 9 == 0
