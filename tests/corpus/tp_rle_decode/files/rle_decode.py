"""Run-length decoding for the sprite format."""


def rle_decode(encoded):
    """'3a2b1c' -> 'aaabbc'; counts may have several digits ('12x')."""
    out = []
    count = 0
    for ch in encoded:
        if ch.isdigit():
            count = count + int(ch)
        else:
            out.append(ch * count)
    return "".join(out)
