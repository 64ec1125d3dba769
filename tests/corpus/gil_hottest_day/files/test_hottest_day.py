from hottest_day import hottest_day


def test_hottest():
    assert hottest_day([{"name": "Mon", "temp": 20}, {"name": "Tue", "temp": 25}]) == "Tue"


def test_missing_reading_skipped():
    days = [{"name": "Mon", "temp": None}, {"name": "Tue", "temp": 18}]
    assert hottest_day(days) == "Tue"


def test_no_readings():
    assert hottest_day([{"name": "Mon", "temp": None}]) is None
