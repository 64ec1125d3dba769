"""Turn titles into URL slugs."""

import re
import unicodedata


def make_slug(text, sep="-"):
    """Lower-case ASCII words of `text` joined by `sep`."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    return sep.join(words)


slugify = make_slug
