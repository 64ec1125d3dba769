"""The state directory: the source of truth that every actor's memory caches.

Plain code, no actors: the layout of the root (`layout`), atomic file operations
(`fsops`), claims and heartbeats (`claims`), failure records (`failures`), the
challenger store (`challengers`), the metrics log (`metrics`) and pruning (`prune`).
"""
