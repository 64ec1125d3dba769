from cumulative_totals import cumulative_totals


def test_deposits():
    assert cumulative_totals([10, 20, 30]) == [10, 30, 60]


def test_withdrawals():
    assert cumulative_totals([50, -20, -5]) == [50, 30, 25]


def test_opening_balance():
    assert cumulative_totals([1, 1], opening=100) == [101, 102]
