"""Server-side pagination."""


def paginate(items, per_page):
    """Split `items` into pages of at most `per_page` items (an empty list has no pages)."""
    page_count = (len(items) + per_page - 1) / per_page
    return [items[i * per_page:(i + 1) * per_page] for i in range(page_count)]
