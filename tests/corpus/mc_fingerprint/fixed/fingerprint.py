"""Content fingerprints for the snippet cache."""

import hashlib


def fingerprint(text):
    """First 12 hex digits of the SHA-256 of the text (UTF-8), whitespace-normalised."""
    normalised = " ".join(text.split())
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()[:12]
