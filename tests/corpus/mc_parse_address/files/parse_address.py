"""Parse 'host:port' strings from the service registry."""


def parse_address(text, default_port=80):
    """'host:port' or 'host' -> (host, port as int)."""
    host, _, port = text.strip().partition(":")
    return host, port if port else default_port
