"""Fixed-width text columns."""


def pad_left(text, width, fill=" "):
    """`text` right-aligned in a column of `width` characters."""
    if len(text) >= width:
        return text
    return fill * (width - len(text)) + text


def column(values, width):
    """Each value right-aligned, one per line."""
    return "\n".join(pad_left(str(v), width) for v in values)
