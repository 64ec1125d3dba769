"""Loader for .env files."""


def parse_env(text):
    """KEY=VALUE pairs of a .env text; blank lines and '#' comments are ignored."""
    env = {}
    for line in text.splitlines():
        if not line.strip() or line.strip().startswith("#"):
            continue
        key, _, value = line.strip().partition("=")
        env[key.strip()] = value.strip()
    return env
