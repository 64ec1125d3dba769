"""File-type sniffing for the document store."""


def is_pdf(data):
    """True if the raw bytes start with the PDF magic number."""
    return data[:5] == b"%PDF-"


def sniff(data):
    """'pdf', 'png' or 'unknown' for the first bytes of a file."""
    if is_pdf(data):
        return "pdf"
    if data.startswith(b"\x89PNG"):
        return "png"
    return "unknown"
