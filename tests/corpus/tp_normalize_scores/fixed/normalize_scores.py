"""Score normalisation for the quiz leaderboard."""


def normalize(scores):
    """Scale scores linearly to 0-100 (lowest -> 0, highest -> 100), one decimal.

    If every score is equal, everybody gets 100.0.
    """
    lo, hi = min(scores), max(scores)
    if hi == lo:
        return [100.0 for _ in scores]
    return [round((s - lo) / (hi - lo) * 100, 1) for s in scores]
