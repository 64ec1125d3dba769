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

from faults import inject
from messages.records import MetricLine, rfc3339

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(MetricLine)


class MetricsLog:
    """An append-only writer of metric lines."""

    def __init__(self, path: Path, instance: str) -> None:
        self.path = path
        self.instance = instance
        self._lock = threading.Lock()
        self._fd: int | None = None

    def _open(self) -> int:
        if self._fd is None:
            self._fd = os.open(
                self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
            )
        return self._fd

    def line(self, event: str, **fields: object) -> MetricLine:
        """A line for `event` stamped now with this instance."""
        return MetricLine(ts=rfc3339(time.time()), event=event, instance=self.instance,
                          **fields)  # type: ignore[arg-type]

    def append(self, line: MetricLine) -> None:
        """Append one line whole. OSError propagates; nothing partial is left,
        because a failed write() of a regular file writes nothing or all of it
        for lines this small (and a short write is completed before returning)."""
        data = _encoder.encode(line) + b"\n"
        with self._lock:
            inject("telemetry.metrics_write")
            fd = self._open()
            written = os.write(fd, data)
            if written != len(data):  # pragma: no cover - disk full mid-line
                os.write(fd, data[written:])

    def reopen(self) -> None:
        """Close the descriptor so the next append opens the current file
        (after rotation)."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def close(self) -> None:
        """Release the descriptor."""
        self.reopen()


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
