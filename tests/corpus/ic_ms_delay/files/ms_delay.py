"""Backoff schedule for the job scheduler (delays in milliseconds)."""


def backoff_ms(attempt, base_seconds=0.5, cap_seconds=30):
    """Delay before retry number `attempt` (0-based): base * 2**attempt seconds,
    capped at cap_seconds, in whole milliseconds."""
    seconds = min(base_seconds * 2 ** attempt, cap_seconds)
    return int(seconds * 100)
