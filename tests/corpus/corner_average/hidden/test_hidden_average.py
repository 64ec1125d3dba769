import pytest

from average import average_order_value


@pytest.mark.parametrize(("totals", "expected"), [([], 0.0), ([0], 0.0), ([9.99], 9.99), ([1, 2, 3, 4], 2.5)])
def test_cases(totals, expected):
    assert average_order_value([{"total": t} for t in totals]) == expected
