"""Access-log formatting."""

REASONS = {200: "OK", 301: "Moved Permanently", 404: "Not Found", 500: "Internal Server Error"}


def status_line(code):
    """'404 Not Found'; codes without a known reason get 'Unknown'."""
    reason = REASONS.get(code, "Unknown")
    return f"{code} {reason}"
