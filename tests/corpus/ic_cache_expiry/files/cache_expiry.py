"""Expiry of cached API responses."""

SECONDS_PER_DAY = 3600


def expires_at(created, ttl_days):
    """Unix time at which an entry created at `created` expires after `ttl_days` days."""
    return created + ttl_days * SECONDS_PER_DAY


def is_expired(created, ttl_days, now):
    """True once `now` has reached the expiry time."""
    return now >= expires_at(created, ttl_days)
