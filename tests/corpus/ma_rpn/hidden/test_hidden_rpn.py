import pytest

from rpn import evaluate_rpn


@pytest.mark.parametrize(("expr", "value"), [
    ("5", 5), ("10 2 -", 8), ("1 2 3 * +", 7), ("8 2 /", 4), ("2.5 2 *", 5), ("4 2 5 * + 1 3 2 * + /", 2),
])
def test_values(expr, value):
    assert evaluate_rpn(expr) == value


def test_empty_is_malformed():
    with pytest.raises(ValueError):
        evaluate_rpn("")
