"""Client-side pagination for the inventory API."""


def fetch_all(fetch_page):
    """Collect every item of a paginated listing.

    `fetch_page(token)` returns `(items, next_token)`; the first call passes None and
    the last page has next_token None.
    """
    items = []
    token = None
    while True:
        page, next_token = fetch_page(token)
        items.extend(page)
        if next_token is None:
            break
        token = next_token
    return items
