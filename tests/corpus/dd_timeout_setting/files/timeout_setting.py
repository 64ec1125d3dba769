"""HTTP client options built from user settings."""

DEFAULT_TIMEOUT = 30


def client_options(settings):
    """Options for the HTTP client: timeout in seconds (default 30) and retries (default 0)."""
    timeout = settings["timeout"]
    retries = settings.get("retries", 0)
    return {"timeout": float(timeout), "retries": int(retries)}
