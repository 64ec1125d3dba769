from fetch_all import fetch_all


def test_string_tokens_and_call_log():
    data = {None: ([1], "p2"), "p2": ([2], "p3"), "p3": ([3], None)}
    calls = []

    def fetch(token):
        calls.append(token)
        return data[token]

    assert fetch_all(fetch) == [1, 2, 3]
    assert calls == [None, "p2", "p3"]


def test_many_pages():
    def fetch(token):
        n = token or 0
        return [n], (n + 1 if n < 99 else None)

    assert fetch_all(fetch) == list(range(100))
