import pytest

from fahrenheit import to_celsius, to_fahrenheit


@pytest.mark.parametrize(("f", "c"), [(-40, -40), (0, -17.78), (50, 10), (451, 232.78), (-459.67, -273.15)])
def test_known_points(f, c):
    assert to_celsius(f) == c


@pytest.mark.parametrize("c", [-40, -10, 0, 21.5, 37, 100])
def test_round_trip(c):
    assert to_celsius(to_fahrenheit(c)) == pytest.approx(c, abs=0.01)
