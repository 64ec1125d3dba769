"""Greedy word wrapping."""


def wrap(text, width=20, *, max_width=None):
    """Lines of at most `width` (or `max_width`) characters, breaking between words."""
    if max_width is not None:
        width = max_width
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
