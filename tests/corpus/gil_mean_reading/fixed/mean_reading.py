"""Sensor statistics for the greenhouse monitor."""


def mean_reading(readings):
    """Mean of the readings, skipping missing ones (None); None if no reading is present."""
    total = 0.0
    count = 0
    for value in readings:
        if value is None:
            continue
        total += value
        count += 1
    return total / count if count else None
