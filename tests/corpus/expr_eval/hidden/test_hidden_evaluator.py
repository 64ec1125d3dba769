import pytest

from calc.evaluator import evaluate


@pytest.mark.parametrize(("text", "value"), [
    ("2+3*4", 14), ("2*3+4", 10), ("(2+3)*4", 20), ("8/2*3", 12), ("1-2-3", -4), ("2*3*4", 24), ("10-4/2", 8),
    ("7", 7), ("2*(3+4)*5", 70),
])
def test_cases(text, value):
    assert evaluate(text) == value
