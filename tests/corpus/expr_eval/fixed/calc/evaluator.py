from calc.tokens import tokenize

PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}


def apply(op, a, b):
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    return a // b


def evaluate(text):
    """Integer value of an expression with + - * / and parentheses."""
    values, ops = [], []

    def reduce_once():
        b, a = values.pop(), values.pop()
        values.append(apply(ops.pop(), a, b))

    for tok in tokenize(text):
        if isinstance(tok, int):
            values.append(tok)
        elif tok == "(":
            ops.append(tok)
        elif tok == ")":
            while ops[-1] != "(":
                reduce_once()
            ops.pop()
        else:
            while ops and ops[-1] != "(" and PRECEDENCE[ops[-1]] >= PRECEDENCE[tok]:
                reduce_once()
            ops.append(tok)
    while ops:
        reduce_once()
    return values[0]
