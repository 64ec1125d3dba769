"""`metrics.jsonl`: one whole line per event, from any number of writers.

Each line is written with a single `write()` on a descriptor opened with
O_APPEND, which the kernel positions and writes as one unit for regular files, so
lines from several threads or processes never tear or interleave.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec

from repairlab.faults import inject
from repairlab.messages.records import MetricLine, rfc3339

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(MetricLine)


class MetricsLog:
    """An append-only writer of metric lines.

    The file is opened for each line and closed again, so that no descriptor
    open for writing pins the filesystem (an operator's `mount -o remount,ro`
    fails with EBUSY while one is open) and a rotation is followed at once.
    """

    def __init__(self, path: Path, instance: str) -> None:
        self.path = path
        self.instance = instance
        self._lock = threading.Lock()

    def line(self, event: str, *, meta_repair: bool = False, **fields: object) -> MetricLine:
        """A line for `event` stamped now with this instance."""
        return MetricLine(ts=rfc3339(time.time()), event=event, instance=self.instance,
                          meta_repair=meta_repair, **fields)  # type: ignore[arg-type]

    def append(self, line: MetricLine) -> None:
        """Append one line whole, or nothing. OSError propagates.

        A `write()` of a line this small is whole or nothing, except on a disk that
        fills mid-line, where it can be short and the rest refused (ENOSPC): the
        part written is then cut off again (if nothing was appended behind it
        meanwhile, which is checked), so the file never holds half a line.
        """
        data = _encoder.encode(line) + b"\n"
        with self._lock:
            inject("telemetry.metrics_write")
            fd = os.open(self.path,
                         os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                         0o600)
            try:
                written = 0
                try:
                    while written < len(data):
                        written += os.write(fd, data[written:])
                except OSError:
                    if written:
                        _cut_partial(fd, data[:written])
                    raise
            finally:
                os.close(fd)

    def reopen(self) -> None:
        """Nothing to do: every line opens the current file (kept for callers
        that rotate)."""

    def close(self) -> None:
        """Nothing to do: no descriptor is kept open."""


def _cut_partial(fd: int, part: bytes) -> None:
    """Remove `part` from the end of the file if it is still the end (a short
    append whose rest the disk refused). Errors are ignored: the caller raises
    the write's error."""
    try:
        end = os.fstat(fd).st_size
        start = end - len(part)
        if start >= 0 and os.pread(fd, len(part), start) == part:
            os.ftruncate(fd, start)
    except OSError:
        pass


def read_metrics(path: Path) -> Iterator[MetricLine]:
    """Stream the lines of one metrics file; a line that does not decode is skipped."""
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        return
    with fh:
        for raw in fh:
            try:
                yield _decoder.decode(raw)
            except msgspec.DecodeError:
                continue


# -- rotation -----------------------------------------------------------------------------


def rotate_metrics(metrics: Path, max_bytes: int, now: float | None = None) -> Path | None:
    """Rename `metrics.jsonl` to `metrics.jsonl.<UTC %Y%m%dT%H%M%S%fZ>` when it is
    larger than `max_bytes`; return the new path, or None when it was not rotated.

    Safe with writers in other threads and processes: a rename keeps the inode,
    so a line being written meanwhile lands whole in the rotated file, and every
    `MetricsLog` notices the new inode before its next line and opens a fresh
    `metrics.jsonl`. No line is lost or torn; readers (`metrics_files`) read the
    rotated files too. Of several instances rotating at once, one rename wins;
    the others find the file gone (None) or, rarely, rotate a fresh small file,
    which is harmless. An existing rotated name is never overwritten. OSError
    other than a vanished file propagates.
    """
    from datetime import UTC, datetime

    from repairlab.state.fsops import move_unique

    try:
        size = os.stat(metrics, follow_symlinks=False).st_size
    except FileNotFoundError:
        return None
    if size <= max_bytes:
        return None
    stamp = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    name = f"{metrics.name}.{stamp.strftime('%Y%m%dT%H%M%S%fZ')}"
    try:
        return move_unique(metrics, metrics.parent, name)
    except FileNotFoundError:
        return None  # another instance rotated it first


def metrics_files(metrics: Path) -> list[Path]:
    """Every metrics file to read, oldest first: the rotated ones
    (`metrics.jsonl.*`, regular files only, by name, which sorts by rotation
    time) and then the live one. Missing places give an empty list."""
    prefix = metrics.name + "."
    rotated: list[Path] = []
    try:
        with os.scandir(metrics.parent) as it:
            for entry in it:
                if (entry.name.startswith(prefix) and not entry.name.endswith(".tmp")
                        and entry.is_file(follow_symlinks=False)):
                    rotated.append(Path(entry.path))
    except FileNotFoundError:
        return []
    rotated.sort()
    if metrics.is_file() and not metrics.is_symlink():
        rotated.append(metrics)
    return rotated
