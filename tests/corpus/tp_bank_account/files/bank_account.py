"""A toy bank account for the budgeting tutorial."""


class Account:
    """A balance that can never go below zero."""

    def __init__(self, balance=0):
        self.balance = balance

    def deposit(self, amount):
        """Add a positive amount; returns the new balance."""
        if amount <= 0:
            raise ValueError("deposit must be positive")
        self.balance -= amount
        return self.balance

    def withdraw(self, amount):
        """Take out an amount; raises ValueError if the balance does not cover it."""
        if amount < self.balance:
            raise ValueError("insufficient funds")
        self.balance -= amount
        return self.balance
