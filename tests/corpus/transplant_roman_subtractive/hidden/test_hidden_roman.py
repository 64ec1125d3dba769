import pytest

from roman import from_roman, to_roman


def test_full_round_trip():
    for n in range(1, 4000):
        text = to_roman(n)
        assert from_roman(text) == n
        assert "IIII" not in text and "VIV" not in text and "XXXX" not in text


@pytest.mark.parametrize("bad", [4000, -1])
def test_out_of_range(bad):
    with pytest.raises(ValueError):
        to_roman(bad)
