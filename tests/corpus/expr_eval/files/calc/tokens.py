def tokenize(text):
    """Numbers and operators of an arithmetic expression."""
    out = []
    num = ""
    for ch in text:
        if ch.isdigit():
            num += ch
            continue
        if num:
            out.append(int(num))
            num = ""
        if ch in "+-*/()":
            out.append(ch)
    if num:
        out.append(int(num))
    return out
