from integrate import trapezoid


def test_constant():
    assert abs(trapezoid(lambda x: 2.0, 0, 3) - 6.0) < 1e-9


def test_linear():
    assert abs(trapezoid(lambda x: x, 0, 1) - 0.5) < 1e-9


def test_quadratic():
    assert abs(trapezoid(lambda x: x * x, 0, 1, n=1000) - 1 / 3) < 1e-5
