"""Upload validation for the CSV importer."""


def count_records(payload):
    """Number of non-blank newline-separated records in a raw upload (bytes)."""
    return sum(1 for line in payload.split("\n") if line.strip())


def too_big(payload, limit=1000):
    """True if the upload holds more than `limit` records."""
    return count_records(payload) > limit
