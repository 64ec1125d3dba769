import pytest

from fib import fib


@pytest.mark.parametrize(("n", "value"), [(0, 0), (1, 1), (2, 1), (3, 2), (10, 55), (30, 832040), (90, 2880067194370816120)])
def test_known(n, value):
    assert fib(n) == value
