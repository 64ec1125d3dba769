"""A tokenizer for the calculator command."""


def tokenize(expr):
    """Split an arithmetic expression into numbers and single-character operators.

    >>> tokenize("12 + 3*(4)")
    ['12', '+', '3', '*', '(', '4', ')']
    """
    tokens = []
    i = 0
    while i < len(expr):
        ch = expr[i]
        if ch.isspace():
            continue
        elif ch.isdigit():
            j = i
            while j < len(expr) and expr[j].isdigit():
                j += 1
            tokens.append(expr[i:j])
            i = j
        else:
            tokens.append(ch)
            i += 1
    return tokens
