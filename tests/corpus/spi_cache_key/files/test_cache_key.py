from cache_key import cache_key


def test_default_language():
    assert cache_key(42, 3) == "user:42:page:3:en"


def test_language():
    assert cache_key(7, 1, "de") == "user:7:page:1:de"


def test_distinct_pages():
    assert cache_key(1, 2) != cache_key(1, 3)
