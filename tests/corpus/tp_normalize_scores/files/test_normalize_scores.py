from normalize_scores import normalize


def test_spread():
    assert normalize([10, 20, 30]) == [0.0, 50.0, 100.0]


def test_all_equal():
    assert normalize([7, 7]) == [100.0, 100.0]


def test_order_kept():
    assert normalize([5, 0, 10]) == [50.0, 0.0, 100.0]
