from hottest_day import hottest_day


def test_tie_goes_to_earliest():
    days = [{"name": "A", "temp": 5}, {"name": "B", "temp": None}, {"name": "C", "temp": 5}]
    assert hottest_day(days) == "A"


def test_negative_and_zero():
    days = [{"name": "A", "temp": -3}, {"name": "B", "temp": 0}, {"name": "C", "temp": None}]
    assert hottest_day(days) == "B"


def test_empty_week():
    assert hottest_day([]) is None
