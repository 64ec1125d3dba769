"""Pick the newest release from a list of tags."""


def sort_versions(versions):
    """Dotted version strings in ascending numeric order ('1.9' before '1.10')."""
    return sorted(versions, key=lambda v: v.split("."))


def newest(versions):
    """The highest version, or None for an empty list."""
    return sort_versions(versions)[-1] if versions else None
