"""Progress reporting for the download manager."""


def percent(part, whole):
    """`part` as a percentage of `whole`, rounded to one decimal place; 0.0 if whole is 0."""
    if whole == 0:
        return 0.0
    return round(part / whole, 1)
