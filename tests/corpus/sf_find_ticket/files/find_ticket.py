"""Link commit messages to tickets."""

import re

TICKET = re.compile(r"[A-Z]{2,5}-\d+")


def find_ticket(message):
    """The first ticket id like 'OPS-142' anywhere in a commit message, or None."""
    found = re.match(TICKET, message)
    return found.group(0) if found else None
