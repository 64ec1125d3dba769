"""inotify on `queue/`, through watchdog: the name of every handoff that becomes
complete there, at once.

A handoff is complete in `queue/` when it is renamed in (IN_MOVED_TO, from
anywhere on the filesystem) or, for a producer that writes in place, when it is
closed after writing (IN_CLOSE_WRITE). `QueueNotifier` asks watchdog's inotify
layer (`watchdog.observers.inotify_c.InotifyFD`, one descriptor and reader thread
of its own) for just those two events and hands each handoff name to a callback.

Why that layer and not watchdog's Observer: the Observer's inotify emitter holds
every IN_MOVED_FROM for half a second, waiting for a matching IN_MOVED_TO, and
every event queued behind it waits too. Each claim is a rename *out of* `queue/`,
which has no partner there, so under a steady flow every new handoff waited up to
0.5 s behind the previous claim (p50 263 ms in `bench/latency.py`); and a handoff
renamed in from outside `queue/` came out as a "created" event, which the watcher
must ignore (a created file may be half-written), so it waited for the next
rescan. The layer below the emitter has neither problem. It is not in watchdog's
documented API, so the floor in pyproject.toml is the first release that serves
(`InotifyFD` appeared in watchdog 7.0.0, 6.0.0 lacks it; its callbacks hear of a
queue overflow from 7.1.0 on, 7.0.0 only logs it), and CI's floors job runs
the suite on exactly that release.

inotify drops events when its queue overflows (IN_Q_OVERFLOW): `on_overflow` is
called then, and the watcher rescans at once (its periodic rescan would anyway).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from watchdog.observers.inotify_c import InotifyConstants, InotifyEvent, InotifyFD

from repairlab.state.claims import is_handoff_name

IN_CLOSE_WRITE = InotifyConstants.IN_CLOSE_WRITE
IN_MOVED_TO = InotifyConstants.IN_MOVED_TO
_MASK = IN_MOVED_TO | IN_CLOSE_WRITE | InotifyConstants.IN_ONLYDIR
_CALLBACK_ID = 1


class _Callback:
    """watchdog's WatchCallback: filters events down to handoff names."""

    def __init__(self, on_name: Callable[[str], object],
                 on_overflow: Callable[[], object] | None) -> None:
        self.on_name = on_name
        self.on_overflow = on_overflow

    def on_event(self, event: InotifyEvent) -> None:
        if not (event.is_moved_to or event.is_close_write):
            return
        name = os.fsdecode(event.name)
        if is_handoff_name(name):
            try:
                self.on_name(name)
            except Exception:
                pass

    def on_watch_deleted(self, wd: Any) -> None:
        """The queue directory itself went away: only rescans can tell now."""

    def on_queue_overflow(self) -> None:
        if self.on_overflow is not None:
            try:
                self.on_overflow()
            except Exception:
                pass


class QueueNotifier:
    """Calls `on_name(name)` for each handoff name completed in `directory`, and
    `on_overflow()` when the kernel dropped events.

    `open()` (or `start()`, which opens if needed) raises OSError when inotify
    cannot be set up here (not Linux, the watch limit reached, no such
    directory); the caller then relies on rescans. An exception raised by a
    callback is swallowed (the receiver is restarting; the rescan catches up).
    `stop()` may be called more than once, before or after `start()`.
    """

    def __init__(self, directory: Path, on_name: Callable[[str], object],
                 on_overflow: Callable[[], object] | None = None) -> None:
        self.directory = directory
        self._callback = _Callback(on_name, on_overflow)
        self._inotify: InotifyFD | None = None

    def open(self) -> None:
        """Open a descriptor of our own and add the watch: events queue in the
        kernel from now on, and are read once `start()` runs the reader."""
        if self._inotify is not None:
            return
        inotify = InotifyFD()  # not the shared instance: stopping ours stops only ours
        try:
            inotify.add_callback(os.fsencode(self.directory), _MASK,  # type: ignore[arg-type]
                                 self._callback, _CALLBACK_ID)  # type: ignore[arg-type]
        except OSError:
            inotify.close()
            raise
        inotify.daemon = True
        self._inotify = inotify

    def start(self) -> None:
        """Open (if not yet) and start the reader thread."""
        self.open()
        assert self._inotify is not None
        self._inotify.start()

    @property
    def running(self) -> bool:
        """The reader thread is alive."""
        return self._inotify is not None and self._inotify.is_alive()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the reader thread and release the descriptor."""
        inotify, self._inotify = self._inotify, None
        if inotify is None:
            return
        started = inotify.ident is not None
        inotify.stop()  # closes the descriptor
        if started:
            inotify.join(timeout)
