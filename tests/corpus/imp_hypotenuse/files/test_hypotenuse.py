from hypotenuse import distance, perimeter


def test_distance():
    assert distance((0, 0), (3, 4)) == 5


def test_square_perimeter():
    assert perimeter([(0, 0), (2, 0), (2, 2), (0, 2)]) == 8


def test_same_point():
    assert distance((1, 1), (1, 1)) == 0
