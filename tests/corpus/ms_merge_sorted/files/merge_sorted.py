"""Merging of sorted sequences."""


def merge_sorted(left, right):
    """Merge two ascending lists into one ascending list (stable: left first on ties)."""
    merged = []
    i = j = 0
    while i < len(left) and j < len(right):
        if left[i] <= right[j]:
            merged.append(left[i])
            i += 1
        else:
            merged.append(right[j])
            j += 1
    merged.extend(left[i:])
    return merged
