def shift_char(c, shift):
    if c.isupper():
        base = ord("A")
    elif c.islower():
        base = ord("a")
    else:
        return c
    return chr((ord(c) - base + shift) % 26 + base)


def encode(text, shift):
    """Caesar cipher: letters rotated by shift, the rest kept."""
    return "".join(shift_char(c, shift) for c in text)


def decode(text, shift):
    return encode(text, -shift)
