from calc.evaluator import evaluate
from calc.tokens import tokenize


def test_tokens():
    assert tokenize("12+3") == [12, "+", 3]


def test_precedence():
    assert evaluate("2+3*4") == 14


def test_left_assoc():
    assert evaluate("10-4-3") == 3


def test_parentheses():
    assert evaluate("(2+3)*4") == 20


def test_mul_then_add():
    assert evaluate("2*3+4") == 10


def test_sub_then_mul():
    assert evaluate("2-3*4") == -10
