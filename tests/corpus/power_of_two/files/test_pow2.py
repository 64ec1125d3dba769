from pow2 import is_power_of_two, next_power_of_two


def test_powers():
    assert all(is_power_of_two(2 ** k) for k in range(10))


def test_non_powers():
    assert not any(is_power_of_two(n) for n in (0, 3, 6, 12, -4))


def test_next_power():
    assert next_power_of_two(5) == 8
    assert next_power_of_two(8) == 8
