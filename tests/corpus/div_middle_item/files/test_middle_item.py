from middle_item import middle_item, quartiles


def test_odd():
    assert middle_item([1, 2, 3]) == 2


def test_even():
    assert middle_item([1, 2, 3, 4]) == 3


def test_quartiles():
    assert quartiles([1, 2, 3, 4, 5, 6, 7, 8]) == (3, 5, 7)
