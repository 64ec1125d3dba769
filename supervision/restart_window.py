"""Restart intensity: at most `max_restarts` within `period_seconds`.

Like OTP's `add_restart/3`: a sliding window of monotonic stamps; a restart
that would exceed the intensity is refused and the supervisor escalates.
"""

from __future__ import annotations

import time
from collections import deque


class RestartWindow:
    """Counts restarts in a sliding window of monotonic time."""

    def __init__(self, max_restarts: int, period_seconds: float) -> None:
        self.max_restarts = max_restarts
        self.period_seconds = period_seconds
        self._stamps: deque[float] = deque()

    def allow(self, now: float | None = None) -> bool:
        """Record a restart at `now`; False when that exceeds the intensity."""
        now = time.monotonic() if now is None else now
        while self._stamps and self._stamps[0] <= now - self.period_seconds:
            self._stamps.popleft()
        self._stamps.append(now)
        return len(self._stamps) <= self.max_restarts

    def __len__(self) -> int:
        return len(self._stamps)
