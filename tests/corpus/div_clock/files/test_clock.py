from clock import format_duration


def test_two_and_a_half_minutes():
    assert format_duration(150) == "2:30"


def test_under_a_minute():
    assert format_duration(9) == "0:09"


def test_exact_minutes():
    assert format_duration(120) == "2:00"
