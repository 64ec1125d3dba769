"""HTTP header parsing for the mock server."""


def parse_headers(lines):
    """Header name (lower-cased) -> value for 'Name: value' lines."""
    headers = {}
    for line in lines:
        name, value = line.split(":", 1)
        headers[name.strip().lower()] = value.strip()
    return headers
