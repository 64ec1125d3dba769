"""Converting note files to page slugs."""


def page_slug(filename):
    """'My Post.txt' -> 'my-post' (a trailing '.txt' is removed)."""
    stem = filename.removesuffix(".txt")
    return "-".join(stem.lower().split())
