"""A small least-recently-used cache."""


class LRU:
    """At most `capacity` entries; the least recently used goes first."""

    def __init__(self, capacity):
        self.capacity = capacity
        self.data = {}

    def get(self, key, default=None):
        return self.data.get(key, default)

    def put(self, key, value):
        self.data[key] = value
        if len(self.data) > self.capacity:
            newest = list(self.data)[-1]
            del self.data[newest]

    def __len__(self):
        return len(self.data)
