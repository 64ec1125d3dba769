import pytest

from to_int import to_int


@pytest.mark.parametrize(("value", "expected"), [
    ("-7", -7), ("+3", 3), ("1.5", None), ("1e3", None), (None, None), (12, 12), ("0x10", None),
])
def test_cases(value, expected):
    assert to_int(value) == expected
