"""Tag storage: tags are kept in one text column, separated by TAG_SEPARATOR."""

TAG_SEPARATOR = ";"


def tags_to_text(tags):
    """The column text for a list of tags (stripped, empty ones dropped)."""
    return ", ".join(t.strip() for t in tags if t.strip())


def text_to_tags(text):
    """The tags stored in a column text."""
    return [t for t in text.split(TAG_SEPARATOR) if t]
