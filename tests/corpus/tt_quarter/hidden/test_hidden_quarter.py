import pytest

from quarter import quarter


@pytest.mark.parametrize("month", range(1, 13))
def test_every_month(month):
    assert quarter(month) == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4][month - 1]


@pytest.mark.parametrize("month", [0, -1, 13, 100])
def test_bad_months(month):
    with pytest.raises(ValueError):
        quarter(month)
