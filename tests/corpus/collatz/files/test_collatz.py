from collatz import steps


def test_one():
    assert steps(1) == 0


def test_power_of_two():
    assert steps(16) == 4


def test_six():
    assert steps(6) == 8


def test_twenty_seven():
    assert steps(27) == 111
