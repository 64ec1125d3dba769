import pytest

from bank_account import Account


def test_sequence():
    acct = Account(100)
    for amount in (1, 2, 3):
        acct.deposit(amount)
    assert acct.balance == 106
    assert acct.withdraw(106) == 0
    with pytest.raises(ValueError):
        acct.withdraw(1)
    assert acct.balance == 0


@pytest.mark.parametrize("amount", [0, -5])
def test_bad_deposit(amount):
    with pytest.raises(ValueError):
        Account().deposit(amount)
