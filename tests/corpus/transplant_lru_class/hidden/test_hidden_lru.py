from lru import LRU


def test_against_a_model():
    cache, model = LRU(3), []
    ops = [("put", 1), ("put", 2), ("get", 1), ("put", 3), ("put", 4), ("get", 2), ("get", 3), ("put", 5),
           ("get", 1), ("get", 4), ("put", 3), ("get", 5)]
    for op, key in ops:
        if op == "put":
            cache.put(key, key * 10)
            if key in model:
                model.remove(key)
            model.append(key)
            if len(model) > 3:
                model.pop(0)
        else:
            got = cache.get(key)
            assert got == (key * 10 if key in model else None)
            if key in model:
                model.remove(key)
                model.append(key)
        assert len(cache) == len(model)


def test_update_refreshes():
    cache = LRU(2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("a", 3)
    cache.put("c", 4)
    assert cache.get("a") == 3 and cache.get("b") is None
