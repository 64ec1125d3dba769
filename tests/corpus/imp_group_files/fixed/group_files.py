"""Disk-usage report grouped by file extension."""

from collections import Counter, defaultdict


def group_by_extension(names):
    """Map each lower-cased extension ('' for none) to the sorted file names having it."""
    groups = defaultdict(list)
    for name in names:
        stem, dot, ext = name.rpartition(".")
        groups[ext.lower() if dot and stem else ""].append(name)
    return {ext: sorted(files) for ext, files in groups.items()}


def extension_counts(names):
    """How many files have each extension."""
    return Counter({ext: len(files) for ext, files in group_by_extension(names).items()})
