"""The Caesar cipher."""

import string


def caesar(text, shift):
    """`text` with each ASCII letter moved `shift` places along the alphabet."""
    k = shift % 26
    lower, upper = string.ascii_lowercase, string.ascii_uppercase
    table = str.maketrans(lower + upper, lower[k:] + lower[:k] + upper[k:] + upper[:k])
    return text.translate(table)
