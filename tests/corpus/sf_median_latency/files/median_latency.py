"""Latency summary for the health-check report."""

import statistics


def latency_summary(samples_ms):
    """Median and worst latency of a non-empty list of samples, in milliseconds.

    The median (not the mean) is reported so that one slow outlier does not hide
    the typical latency.
    """
    return {"median": statistics.mean(samples_ms), "max": max(samples_ms)}
