from percent_change import badge, percent_change


def test_rise():
    assert percent_change(100, 105) == 5.0


def test_from_zero():
    assert percent_change(0, 7) is None


def test_badge_new():
    assert badge(0, 3) == "new"
