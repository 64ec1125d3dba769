import pytest

from safe_ratio import safe_ratio


@pytest.mark.parametrize("default", [None, 0, 0.0, -1, "n/a", float("inf")])
def test_any_default(default):
    got = safe_ratio(10, 0, default)
    assert got == default or (got is None and default is None)


def test_default_default_is_zero():
    assert safe_ratio(5, 0) == 0.0


@pytest.mark.parametrize(("a", "b"), [(1, 2), (-3, 4), (0, 7), (9, -3)])
def test_division(a, b):
    assert safe_ratio(a, b, default=None) == a / b
