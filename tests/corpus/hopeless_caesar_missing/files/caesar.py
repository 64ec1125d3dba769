"""The Caesar cipher."""


def caesar(text, shift):
    """`text` with each ASCII letter moved `shift` places along the alphabet."""
    # TODO: implement
    return text
