"""Source listing cleanup for the code-review tool."""


def clean_listing(text, tab_width=4):
    """Tabs replaced by `tab_width` spaces and trailing spaces removed from every line."""
    text = text.replace("\t", " " * tab_width)
    return "\n".join(line.rstrip() for line in text.split("\n"))
