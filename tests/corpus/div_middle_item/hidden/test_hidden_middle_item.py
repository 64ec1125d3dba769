import pytest

from middle_item import middle_item, quartiles


@pytest.mark.parametrize("n", range(1, 20))
def test_middle(n):
    assert middle_item(list(range(n))) == n // 2


def test_quartiles_odd():
    assert quartiles([1, 2, 3, 4, 5, 6, 7]) == (2, 4, 6)
