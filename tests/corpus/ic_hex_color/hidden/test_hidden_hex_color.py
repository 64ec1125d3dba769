import pytest

from hex_color import hex_to_rgb


@pytest.mark.parametrize(("color", "rgb"), [
    ("#000000", (0, 0, 0)), ("#FFFFFF", (255, 255, 255)), ("#0a0B0c", (10, 11, 12)), ("7f0080", (127, 0, 128)),
])
def test_cases(color, rgb):
    assert hex_to_rgb(color) == rgb


def test_not_hex():
    with pytest.raises(ValueError):
        hex_to_rgb("#zzzzzz")
