from shapes import Rect


def test_area():
    assert Rect(3, 4).area() == 12


def test_perimeter():
    assert Rect(3, 4).perimeter() == 14


def test_square():
    assert Rect(2, 2).is_square()
    assert not Rect(2, 3).is_square()
