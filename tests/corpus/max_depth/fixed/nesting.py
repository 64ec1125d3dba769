def max_depth(text):
    """Deepest parenthesis nesting in text, or -1 when unbalanced."""
    depth = best = 0
    for ch in text:
        if ch == "(":
            depth += 1
            best = max(best, depth)
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return -1
    return best if not depth else -1
