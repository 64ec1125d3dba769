"""Numeric helpers for report generation."""


def safe_ratio(numerator, denominator, default=0.0):
    """numerator / denominator, or `default` when the denominator is zero.

    Used by the dashboard, which passes default=None to show a dash.
    """
    if denominator == 0:
        return default
    return numerator / denominator
