"""inotify on `queue/`: the name of every handoff that becomes complete there, at once.

A handoff is complete in `queue/` when it is renamed in (IN_MOVED_TO, from
anywhere on the filesystem) or, for a producer that writes in place, when it is
closed after writing (IN_CLOSE_WRITE). `QueueNotifier` asks the kernel for just
those two events on one descriptor of its own and hands each handoff name to a
callback from a reader thread of its own.

It speaks to Linux's inotify directly (libc's `inotify_init1` and
`inotify_add_watch` through ctypes, and `read()` of the descriptor), which is a
small, stable, documented interface (inotify(7)). Why not watchdog: its public API
is the Observer, whose inotify emitter holds every IN_MOVED_FROM for half a second
waiting for a matching IN_MOVED_TO, and every event queued behind it waits too.
Each claim is a rename *out of* `queue/`, which has no partner there, so under a
steady flow every new handoff waited up to 0.5 s behind the previous claim (p50
263 ms in `bench/latency.py`); and a handoff renamed in from outside `queue/` came
out as a "created" event, which the watcher must ignore (a created file may be
half-written), so it waited for the next rescan. The layer below the emitter
(`watchdog.observers.inotify_c`) is private, and changed shape between releases.

inotify drops events when its queue overflows (IN_Q_OVERFLOW): `on_overflow` is
called then, and the watcher rescans at once (its periodic rescan would anyway).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import select
import struct
import threading
from collections.abc import Callable
from pathlib import Path

from state.claims import is_handoff_name

# <sys/inotify.h>
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_TO = 0x00000080
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ISDIR = 0x40000000
IN_ONLYDIR = 0x01000000
_MASK = IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len; then `len` bytes of name
_BUFFER = 64 * 1024

_libc: ctypes.CDLL | None
try:
    _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    _libc.inotify_init1.argtypes = [ctypes.c_int]
    _libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
except (OSError, AttributeError):  # not Linux, or a libc without inotify
    _libc = None


def parse_events(buffer: bytes) -> list[tuple[int, bytes]]:
    """The (mask, name) of each `struct inotify_event` in what one `read()`
    returned; a truncated trailing record is ignored."""
    events = []
    offset = 0
    while offset + _EVENT.size <= len(buffer):
        _, mask, _, length = _EVENT.unpack_from(buffer, offset)
        start = offset + _EVENT.size
        events.append((mask, buffer[start:start + length].rstrip(b"\0")))
        offset = start + length
    return events


class QueueNotifier:
    """Calls `on_name(name)` for each handoff name completed in `directory`, and
    `on_overflow()` when the kernel dropped events.

    `open()` (or `start()`, which opens if needed) raises OSError when inotify
    cannot be set up here (not Linux, the watch limit reached, no such
    directory); the caller then relies on rescans. An exception raised by a
    callback is swallowed (the receiver is restarting; the rescan catches up). If
    the directory itself goes away the reader thread ends; only rescans can tell
    then. `stop()` may be called more than once.
    """

    def __init__(self, directory: Path, on_name: Callable[[str], object],
                 on_overflow: Callable[[], object] | None = None) -> None:
        self.directory = directory
        self.on_name = on_name
        self.on_overflow = on_overflow
        self._fd: int | None = None
        self._wake: tuple[int, int] | None = None
        self._thread: threading.Thread | None = None

    def open(self) -> None:
        """Open the descriptor and add the watch; events queue in the kernel from
        now on, and are read once `start()` runs the reader."""
        if self._fd is not None:
            return
        if _libc is None:
            raise OSError(errno.ENOSYS, "inotify is not available on this system")
        fd = _libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"inotify_init1: {os.strerror(err)}")
        if _libc.inotify_add_watch(fd, os.fsencode(self.directory), _MASK) < 0:
            err = ctypes.get_errno()
            os.close(fd)
            raise OSError(err, os.strerror(err), str(self.directory))
        self._fd = fd

    def start(self) -> None:
        """Open (if not yet) and start the reader thread."""
        self.open()
        assert self._fd is not None
        self._wake = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._thread = threading.Thread(target=self._run, args=(self._fd, self._wake[0]),
                                        name="queue-inotify", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        """The reader thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the reader thread and release the descriptors."""
        thread, self._thread = self._thread, None
        wake, self._wake = self._wake, None
        fd, self._fd = self._fd, None
        if wake is not None:
            try:
                os.write(wake[1], b"x")
            except OSError:
                pass
        if thread is not None:
            thread.join(timeout)
        for descriptor in (*(wake or ()), *(() if fd is None else (fd,))):
            try:
                os.close(descriptor)
            except OSError:
                pass

    def _run(self, fd: int, wake: int) -> None:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        poller.register(wake, select.POLLIN)
        while True:
            try:
                ready = {descriptor for descriptor, _ in poller.poll()}
            except InterruptedError:  # pragma: no cover - PEP 475 retries poll itself
                continue
            if wake in ready:
                return
            try:
                buffer = os.read(fd, _BUFFER)
            except BlockingIOError:
                continue
            except OSError:
                return
            for mask, name in parse_events(buffer):
                if mask & IN_Q_OVERFLOW:
                    self._call(self.on_overflow)
                elif mask & IN_IGNORED:
                    return  # the watch is gone (the directory was removed)
                elif mask & (IN_MOVED_TO | IN_CLOSE_WRITE) and not mask & IN_ISDIR:
                    decoded = os.fsdecode(name)
                    if is_handoff_name(decoded):
                        self._call(self.on_name, decoded)

    @staticmethod
    def _call(callback: Callable[..., object] | None, *args: object) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:
            pass
