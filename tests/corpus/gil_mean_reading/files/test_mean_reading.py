from mean_reading import mean_reading


def test_all_present():
    assert mean_reading([1.0, 2.0, 3.0]) == 2.0


def test_skips_missing():
    assert mean_reading([4.0, None, 6.0]) == 5.0


def test_all_missing():
    assert mean_reading([None, None]) is None
