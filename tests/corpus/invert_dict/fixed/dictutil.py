def invert(d):
    """{value: key}; later keys win on repeated values."""
    inv = {}
    for key, value in d.items():
        inv[value] = key
    return inv


def merge(a, b):
    out = dict(a)
    out.update(b)
    return out
