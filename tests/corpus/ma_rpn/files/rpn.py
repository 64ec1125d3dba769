"""Reverse Polish notation calculator."""

OPERATORS = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
}


def evaluate_rpn(expression):
    """Evaluate a space-separated RPN expression like '3 4 + 2 *'."""
    stack = []
    for token in expression.split():
        if token in OPERATORS:
            right = stack.pop()
            left = stack.pop()
            stack.push(OPERATORS[token](left, right))
        else:
            stack.push(float(token))
    if len(stack) != 1:
        raise ValueError("malformed expression")
    return stack[0]
