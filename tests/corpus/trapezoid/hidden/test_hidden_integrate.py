import math

import pytest

from integrate import trapezoid


def test_linear_is_exact():
    assert trapezoid(lambda x: 2 * x + 1, 0, 3, n=7) == pytest.approx(12)


def test_sine():
    assert trapezoid(math.sin, 0, math.pi, n=1000) == pytest.approx(2, abs=1e-5)


def test_one_panel():
    assert trapezoid(lambda x: x * x, 0, 2, n=1) == pytest.approx(4)
