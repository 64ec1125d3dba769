import pytest

from rpn import evaluate_rpn


def test_simple():
    assert evaluate_rpn("3 4 +") == 7


def test_nested():
    assert evaluate_rpn("3 4 + 2 *") == 14


def test_malformed():
    with pytest.raises(ValueError):
        evaluate_rpn("1 2")
