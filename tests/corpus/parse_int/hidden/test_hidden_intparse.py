import pytest

from intparse import parse_int


@pytest.mark.parametrize(("s", "v"), [(None, None), ("0", 0), (" -12 ", -12), ("+7", 7), ("007", 7)])
def test_values(s, v):
    assert parse_int(s) == v


@pytest.mark.parametrize("s", ["", "-", "1.5", "abc", "1 2"])
def test_errors(s):
    with pytest.raises(ValueError):
        parse_int(s)
