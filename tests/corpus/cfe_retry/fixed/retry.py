"""Retrying flaky calls (network, disk) a bounded number of times."""


def retry(func, retries=3):
    """Call func until it returns without raising, at most `retries` times.

    Returns func's result. If every attempt raised, the last exception is re-raised.
    """
    last_error = None
    for _ in range(retries):
        try:
            return func()
        except Exception as exc:  # noqa: BLE001 - the caller decides what is flaky
            last_error = exc
    raise last_error
