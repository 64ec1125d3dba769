def full_name(first, last, middle=""):
    """'First Middle Last', or 'First Last' without a middle name."""
    if middle:
        return first + " " + middle + " " + last
    return first + " " + last


def initials(first, last):
    return first[0] + "." + last[0] + "."
