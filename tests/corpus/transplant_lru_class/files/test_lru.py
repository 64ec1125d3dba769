from lru import LRU


def test_evicts_least_recently_used():
    cache = LRU(2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.get("a")
    cache.put("c", 3)
    assert cache.get("b") is None
    assert cache.get("a") == 1
    assert cache.get("c") == 3


def test_capacity_bound():
    cache = LRU(3)
    for i in range(10):
        cache.put(i, i)
    assert len(cache) == 3
