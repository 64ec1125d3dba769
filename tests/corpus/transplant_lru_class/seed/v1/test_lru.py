from lru import LRU


def test_lru():
    cache = LRU(1)
    cache.put(1, 1)
    cache.put(2, 2)
    assert cache.get(1) is None
