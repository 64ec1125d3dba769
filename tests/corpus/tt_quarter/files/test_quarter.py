import pytest

from quarter import quarter, quarter_label


def test_march_is_q1():
    assert quarter(3) == 1


def test_december_is_q4():
    assert quarter(12) == 4


def test_label():
    assert quarter_label(2024, 9) == "2024-Q3"


def test_out_of_range():
    with pytest.raises(ValueError):
        quarter(13)
