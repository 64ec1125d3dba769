"""Greedy word wrapping."""


def wrap(text, width=20):
    """Lines of at most `width` characters, breaking between words."""
    lines = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if len(candidate) <= width or not current:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines
