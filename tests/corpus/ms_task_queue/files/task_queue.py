"""A tiny in-memory work queue with counters for a status page."""


class TaskQueue:
    """First-in, first-out tasks; remembers how many were added and finished."""

    def __init__(self):
        self.pending = []
        self.added = 0
        self.done = 0

    def add(self, task):
        """Queue a task."""
        self.pending.append(task)
        self.added += 1

    def pop(self):
        """Take the oldest task; raises IndexError when the queue is empty."""
        task = self.pending.pop(0)
        return task

    def status(self):
        """A dict for the status page."""
        return {"pending": len(self.pending), "added": self.added, "done": self.done}
