"""Time as the state root sees it: one clock for every instance, never stepped forward.

Instances share files, not clocks. A file's mtime is set by the kernel that
writes it (on NFS, by the server), whatever the writing process believes the
time is; so ages of files (backoff not-before times, failure records, pruning)
are judged against the same clock that stamped them: the mtime of a file this
instance touches now (`fs_now`, `instances/.clock.<uid>`). A process whose own
wall clock is wrong (an hour ahead, under libfaketime, or a host whose NTP has
not caught up) judges them exactly like its peers.

The kernel clock itself can still be stepped (NTP, a VM resumed). `StateClock`
never lets the time it reports run ahead of this instance's monotonic clock by
more than a small rate (0.1 %) since it last looked: a forward step is absorbed
slowly, so nothing looks older than it is all at once and nothing is pruned,
retried or judged early; a backward step is followed at once (see `Claims.claim_due`
for how a backoff set before such a step is not stalled by it).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

CLOCK_FILE = ".clock"
CATCH_UP_RATE = 1.001  # at most this much state-root time per second of our monotonic time


def fs_now(directory: Path) -> float:
    """The current time of the filesystem holding `directory`: the mtime of
    `directory/.clock.<uid>` after setting it to "now" (which the kernel, or the NFS
    server, fills in). Where the file cannot be touched (a read-only or full
    disk) this process's wall clock stands in."""
    # One file per user: an operator's `status` as root must not leave a file the
    # service user cannot touch (utime needs ownership or write permission).
    path = directory / f"{CLOCK_FILE}.{os.geteuid()}"
    try:
        try:
            os.utime(path, None, follow_symlinks=False)
        except FileNotFoundError:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            os.close(fd)
        return os.stat(path, follow_symlinks=False).st_mtime
    except OSError:
        return time.time()


class StateClock:
    """`fs_now`, never running ahead of the monotonic clock (see the module doc).

    `now()` is thread-safe. `source` and `monotonic` are for tests.
    """

    def __init__(self, directory: Path, *, source: Callable[[], float] | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._source = source or (lambda: fs_now(directory))
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._anchor: tuple[float, float] | None = None
        self.last_raw = 0.0  # the source's own reading at the last `now()`

    def now(self) -> float:
        """The state root's time, in seconds since the epoch."""
        seen = self._source()
        mono = self._monotonic()
        with self._lock:
            self.last_raw = seen
            if self._anchor is not None:
                last, last_mono = self._anchor
                bound = last + max(0.0, mono - last_mono) * CATCH_UP_RATE
                seen = min(seen, bound)
            self._anchor = (seen, mono)
            return seen
