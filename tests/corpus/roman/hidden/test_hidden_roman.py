import pytest

from roman import from_roman


@pytest.mark.parametrize(("s", "v"), [
    ("I", 1), ("IV", 4), ("IX", 9), ("XIV", 14), ("XL", 40), ("XC", 90), ("CD", 400), ("CM", 900), ("MCMXCIV", 1994),
    ("MMXXIV", 2024), ("LVIII", 58), ("MMMCMXCIX", 3999),
])
def test_cases(s, v):
    assert from_roman(s) == v
