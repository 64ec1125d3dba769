"""Mailing-list cleanup."""


def unique_emails(addresses):
    """The addresses without duplicates (compared case-insensitively), first spelling kept."""
    seen = set()
    result = []
    for address in addresses:
        key = address.strip().lower()
        if key in seen:
            continue
        seen.add(key)
        result.append(address.strip())
    return result
