import math

import pytest

from newton import sqrt


@pytest.mark.parametrize("n", [0, 1, 2, 4, 10, 0.25, 1e-6, 12345.678, 1e12])
def test_matches_math(n):
    assert sqrt(n) == pytest.approx(math.sqrt(n), rel=1e-9)
