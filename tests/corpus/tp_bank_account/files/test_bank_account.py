import pytest

from bank_account import Account


def test_deposit():
    assert Account(10).deposit(5) == 15


def test_withdraw():
    assert Account(10).withdraw(4) == 6


def test_overdraft_refused():
    with pytest.raises(ValueError):
        Account(10).withdraw(11)


def test_deposit_then_withdraw_all():
    acct = Account()
    acct.deposit(7)
    assert acct.withdraw(7) == 0
