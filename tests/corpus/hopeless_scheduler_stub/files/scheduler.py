"""Job scheduling for the backup daemon."""

from datetime import datetime, timedelta


def next_run(spec, after):
    """The first time strictly after `after` matching spec 'HH:MM' (daily) or
    'every Nm' (every N minutes from midnight)."""
    # TODO: implement the spec parsing
    return after


__all__ = ["datetime", "next_run", "timedelta"]
