"""API tokens for the internal dashboard."""

import base64


def make_token(user, secret):
    """A URL-safe token 'user:secret' in base64, as text."""
    raw = f"{user}:{secret}".encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii")


def read_token(token):
    """(user, secret) from a token made by make_token."""
    user, _, secret = base64.urlsafe_b64decode(token).decode("utf-8").partition(":")
    return user, secret
