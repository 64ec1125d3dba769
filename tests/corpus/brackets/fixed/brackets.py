PAIRS = {")": "(", "]": "[", "}": "{"}
OPENERS = "([{"


def balanced(text):
    """True when every bracket in text is closed in the right order."""
    stack = []
    for c in text:
        if c in OPENERS:
            stack.append(c)
        elif c in PAIRS:
            if not stack or stack.pop() != PAIRS[c]:
                return False
    return not stack
