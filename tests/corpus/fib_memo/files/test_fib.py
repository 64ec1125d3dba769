from fib import fib


def test_zero():
    assert fib(0) == 0


def test_one():
    assert fib(1) == 1


def test_ten():
    assert fib(10) == 55


def test_thirty():
    assert fib(30) == 832040
