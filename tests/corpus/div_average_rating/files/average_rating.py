"""Review statistics for the product page."""


def average_rating(ratings):
    """Mean of 1-5 star ratings rounded to one decimal, or None without ratings."""
    if not ratings:
        return None
    return round(sum(ratings) // len(ratings), 1)
