"""Pagination for the search results page."""


def clamp_page(page, total_pages):
    """A valid 1-based page number: a missing, too small or too large page becomes 1."""
    if page is None or page < 1 or page > total_pages:
        return 1
    return page
