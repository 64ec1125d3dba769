"""URL normalisation for the bookmark importer."""


def normalize_url(url):
    """Strip whitespace and add 'https://' unless the URL already has an http(s) scheme."""
    url = url.strip()
    if url.startswith(("http://", "https://")):
        return url
    return "https://" + url
