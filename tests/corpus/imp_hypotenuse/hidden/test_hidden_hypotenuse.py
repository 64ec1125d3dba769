import math

import pytest

from hypotenuse import distance, perimeter


def test_triangle():
    assert perimeter([(0, 0), (3, 0), (3, 4)]) == pytest.approx(12)


def test_negative_coordinates():
    assert distance((-1, -1), (2, 3)) == 5


def test_unit_diagonal():
    assert distance((0, 0), (1, 1)) == pytest.approx(math.sqrt(2))


def test_empty_polygon():
    assert perimeter([]) == 0
