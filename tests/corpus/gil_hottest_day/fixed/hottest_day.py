"""Weekly weather summary."""


def hottest_day(days):
    """Name of the day with the highest 'temp'; days whose temp is None are ignored.

    Returns None when no day has a reading. The earliest day wins a tie.
    """
    best = None
    for day in days:
        if day["temp"] is None:
            continue
        if best is None or day["temp"] > best["temp"]:
            best = day
    return best["name"] if best else None
