"""Loader for .env files."""


def parse_env(text):
    """KEY=VALUE pairs of a .env text; blank lines and '#' comments are ignored."""
    env = {}
    if not text.strip() or text.strip().startswith("#"):
        return env
    for line in text.splitlines():
        key, _, value = line.strip().partition("=")
        env[key.strip()] = value.strip()
    return env
