import pytest

from shapes import Rect


@pytest.mark.parametrize(("w", "h"), [(0, 5), (1, 1), (2, 3), (7, 2), (2.5, 4)])
def test_area_and_perimeter(w, h):
    r = Rect(w, h)
    assert r.area() == w * h
    assert r.perimeter() == 2 * (w + h)
    assert r.is_square() == (w == h)
