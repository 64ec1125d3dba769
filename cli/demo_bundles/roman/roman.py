def to_roman(n):
    raise NotImplementedError("nobody wrote this yet")
