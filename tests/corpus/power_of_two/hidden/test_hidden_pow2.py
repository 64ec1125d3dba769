from pow2 import is_power_of_two, next_power_of_two


def test_first_thousand():
    powers = {2 ** k for k in range(11)}
    for n in range(-5, 1025):
        assert is_power_of_two(n) == (n in powers)
    assert next_power_of_two(5) == 8
    assert next_power_of_two(1) == 1
