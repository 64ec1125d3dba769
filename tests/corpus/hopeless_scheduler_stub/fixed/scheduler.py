"""Job scheduling for the backup daemon."""

from datetime import datetime, timedelta


def next_run(spec, after):
    """The first time strictly after `after` matching spec 'HH:MM' (daily) or
    'every Nm' (every N minutes from midnight)."""
    midnight = after.replace(hour=0, minute=0, second=0, microsecond=0)
    if spec.startswith("every "):
        step = timedelta(minutes=int(spec[6:].rstrip("m")))
        candidate = midnight
        while candidate <= after:
            candidate += step
        return candidate
    hours, minutes = (int(p) for p in spec.split(":"))
    candidate = midnight + timedelta(hours=hours, minutes=minutes)
    return candidate if candidate > after else candidate + timedelta(days=1)


__all__ = ["datetime", "next_run", "timedelta"]
