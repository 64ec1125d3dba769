"""Ledger helpers."""


def cumulative_totals(amounts, opening=0):
    """Balance after each amount, starting from `opening`.

    Args:
        amounts: deposits (positive) and withdrawals (negative).
        opening: the balance before the first amount.

    Returns:
        A list with one balance per amount.
    """
    balances = []
    running = opening
    for amount in amounts:
        running += amount
        balances.append(running)
    return balances
