_cache = {}


def fib(n):
    """The n-th Fibonacci number, fib(0) = 0, fib(1) = 1."""
    if n < 2:
        return n
    if n not in _cache:
        _cache[n] = fib(n - 1) + fib(n - 2)
    return _cache[n]
