"""Tag cleanup for the blog engine."""


def unique_tags(posts):
    """The distinct lower-cased tags used by any post, sorted."""
    tags = set()
    for post in posts:
        tags.update(t.lower() for t in post.get("tags", []))
    return tags
