"""Stack utilities for a bracket-matching parser."""


def pop_until(stack, marker):
    """Pop items off `stack` until `marker` is on top (the marker stays).

    Returns the popped items, most recent first. If the marker is not on the stack,
    the whole stack is emptied.
    """
    popped = []
    while stack and stack[-1] != marker:
        popped.append(stack.pop())
    return popped
