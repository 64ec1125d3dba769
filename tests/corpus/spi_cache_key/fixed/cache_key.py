"""Cache keys for the page renderer."""


def cache_key(user_id, page, lang="en"):
    """A key like 'user:42:page:3:en'."""
    return ":".join(["user", str(user_id), "page", str(page), lang])
