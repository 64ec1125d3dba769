"""Reading the metrics files incrementally: where a reader stopped, and what is new.

A reader's place (`EventCursor`) is a byte offset in one metrics file, named by
the file's identity (device and inode, which a rotation keeps: it is a rename),
not by its path. So:

- nothing new: one `stat` of `metrics.jsonl` (same inode, same size) and nothing
  read, however large the file;
- new lines: only the bytes after the offset are read, up to the last whole line
  (a line being appended is left for the next call);
- a rotation since the last call (`state.metrics.rotate_metrics`): the rotated
  file that holds the cursor is found among `metrics.jsonl.*` by its inode and
  read to its end, then every file after it, oldest first, then the new live one;
  nothing is lost or read twice;
- the file that held the cursor was pruned meanwhile: every file written to
  after the cursor was made (by mtime, kept in the cursor) is read whole.

Lines that do not decode as a `MetricLine` are skipped (as `run.py stats` does).
A rotation racing a read is noticed (the file opened is not the one listed) and
the read goes on from where it got to; an OSError other than a vanished file
propagates, with nothing consumed.
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from repairlab.messages.records import MetricLine
from repairlab.state.backend import EventCursor
from repairlab.state.metrics import metrics_files

CHUNK_BYTES = 1 << 20
_decoder = msgspec.json.Decoder(MetricLine)


def _source(st: os.stat_result) -> str:
    """A file's identity and when it was last written: `dev:ino@mtime_ns`."""
    return f"{st.st_dev}:{st.st_ino}@{st.st_mtime_ns}"


def _identity(source: str) -> tuple[tuple[int, int] | None, int]:
    """((dev, ino), mtime_ns) of a cursor's source; (None, 0) when it names no file."""
    ident, _, mtime = source.partition("@")
    dev, _, ino = ident.partition(":")
    try:
        return (int(dev), int(ino)), int(mtime or 0)
    except ValueError:
        return None, 0


def decode_lines(block: bytes) -> list[MetricLine]:
    """The metric lines of `block` (whole lines); undecodable ones are skipped."""
    try:
        return _decoder.decode_lines(block)
    except msgspec.DecodeError:
        pass
    good = []
    for raw in block.splitlines():
        if raw.strip():
            try:
                good.append(_decoder.decode(raw))
            except msgspec.DecodeError:
                continue
    return good


class _Moved(Exception):
    """The file at a listed path is no longer the one listed (rotated meanwhile)."""


class EventTail:
    """Incremental reads of one state root's metrics files (see the module doc).

    `bytes_read` counts every byte this tail has read from the files, so a caller
    (or a test) can see that a poll read only what was new."""

    def __init__(self, metrics: Path) -> None:
        self.metrics = metrics
        self.bytes_read = 0

    def read(self, cursor: EventCursor | None) -> tuple[list[MetricLine], EventCursor]:
        """The lines after `cursor` (None or an empty source: from the first line of
        the oldest file) and the cursor to pass next time."""
        current = cursor if cursor is not None else EventCursor()
        lines: list[MetricLine] = []
        for _ in range(100):  # each retry follows one more rotation that raced us
            try:
                plan = self._plan(current)
                if plan is None:
                    return lines, current
                for path, start, expected, last in plan:
                    current = self._read_file(path, start, expected, last, lines, current)
                return lines, current
            except _Moved:
                continue
        return lines, current

    def _plan(self, cursor: EventCursor
              ) -> list[tuple[Path, int, tuple[int, int] | None, bool]] | None:
        """(path, offset, expected identity, is last) of each file to read, in
        order; None when nothing is new (the cheap path: one stat)."""
        ident, seen_ns = _identity(cursor.source) if cursor.source else (None, 0)
        if ident is not None:
            try:
                st = os.stat(self.metrics)
            except FileNotFoundError:
                st = None
            if st is not None and (st.st_dev, st.st_ino) == ident:
                if st.st_size <= cursor.position:
                    return None  # nothing new (or cut back: nothing whole to read)
                return [(self.metrics, cursor.position, ident, True)]
        listed = []
        for path in metrics_files(self.metrics):
            try:
                st = os.stat(path, follow_symlinks=False)
            except FileNotFoundError:
                continue  # pruned or rotated between the listing and now
            listed.append((path, st))
        if ident is None:
            todo = [(p, 0, (st.st_dev, st.st_ino)) for p, st in listed]
        else:
            at = next((i for i, (_, st) in enumerate(listed)
                       if (st.st_dev, st.st_ino) == ident), None)
            if at is not None:
                path, st = listed[at]
                todo = [(path, cursor.position, ident)]
                todo += [(p, 0, (s.st_dev, s.st_ino)) for p, s in listed[at + 1:]]
            else:  # the cursor's file is gone: whatever was written after it
                todo = [(p, 0, (s.st_dev, s.st_ino)) for p, s in listed
                        if s.st_mtime_ns > seen_ns]
        if not todo:
            return None
        return [(p, start, i, n == len(todo) - 1) for n, (p, start, i) in enumerate(todo)]

    def _read_file(self, path: Path, start: int, expected: tuple[int, int] | None, last: bool,
                   out: list[MetricLine], cursor: EventCursor) -> EventCursor:
        """Read `path` from `start` into `out`; the cursor after what was consumed.
        A trailing line without its newline is consumed only from a file that is
        not the last (a rotated file, finished). Raises _Moved when the file at
        `path` is not `expected` (the cursor then stays where it was)."""
        try:
            fh = open(path, "rb")
        except FileNotFoundError:
            if last:
                return cursor
            raise _Moved from None
        with fh:
            st = os.fstat(fh.fileno())
            if expected is not None and (st.st_dev, st.st_ino) != expected:
                raise _Moved
            fh.seek(start)
            position, rest = start, b""
            while True:
                chunk = fh.read(CHUNK_BYTES)
                if not chunk:
                    break
                self.bytes_read += len(chunk)
                data = rest + chunk
                cut = data.rfind(b"\n") + 1
                rest = data[cut:]
                if cut:
                    out.extend(decode_lines(data[:cut]))
                    position += cut
            if rest and not last:
                out.extend(decode_lines(rest))
                position += len(rest)
            return EventCursor(source=_source(os.fstat(fh.fileno())), position=position)
