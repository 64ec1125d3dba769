import pytest

from roman import from_roman, to_roman


@pytest.mark.parametrize(
    ("n", "text"), [(1, "I"), (4, "IV"), (9, "IX"), (14, "XIV"), (40, "XL"), (90, "XC"),
                    (400, "CD"), (1994, "MCMXCIV"), (3999, "MMMCMXCIX")],
)
def test_to_roman(n, text):
    assert to_roman(n) == text


def test_round_trip():
    assert all(from_roman(to_roman(n)) == n for n in range(1, 400))


def test_out_of_range():
    with pytest.raises(ValueError):
        to_roman(0)
