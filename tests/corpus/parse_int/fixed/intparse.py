def parse_int(s):
    """The integer in s (surrounding spaces allowed), None for None, ValueError otherwise."""
    if s is None:
        return None
    s = s.strip()
    sign = -1 if s.startswith("-") else 1
    digits = s.lstrip("+-")
    if not digits.isdigit():
        raise ValueError(s)
    return sign * int(digits)
