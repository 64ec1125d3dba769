"""Rolling statistics for the metrics dashboard."""


def window_sums(values, size):
    """Sum of every run of `size` consecutive values, in order.

    Returns an empty list when there are fewer than `size` values.
    """
    return [sum(values[i:size]) for i in range(len(values) - size + 1)]
