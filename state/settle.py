"""Settle notes: the last two steps of a repair survive a crash between them.

A repaired handoff settles in two steps once its challenger is public: the move
of its claim to `processed/done/`, then its `repaired` metrics line. A crash
between the two used to lose the line for good (the claim had left `claims/`, so
nothing was redone). So, before the move, telemetry writes a note,
`claims/<instance>/.settling/NAME`, holding the claim's inode and the exact line;
it removes the note once the line is written.

`finish_settling` completes what a note promises, judged by the files alone:

- the claim is still in `claims/<instance>/` (same inode): the move did not
  happen. If the challenger the line names is public, it rolls forward: the move,
  then the line (otherwise, after a power loss, the claim is simply redone);
- the claim is in `processed/done/` (found by inode under its name or a unique
  variant of it): the move happened; the line is appended unless the end of
  `metrics.jsonl` already holds it (a crash after the line, before the note went);
- neither: the claim was handed back or removed; there is nothing to finish.

Of several instances finishing one dead peer's notes at once, the one whose
unlink of the note succeeds does the work. A note is a hidden name in the claims
directory, so `Claims.held()` and the peers' lease recovery never take it for a claim.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import msgspec

from repairlab.messages.records import MetricLine
from repairlab.state.fsops import atomic_write, move_unique, unique_names
from repairlab.state.layout import Layout

_decoder = msgspec.json.Decoder(MetricLine)
_encoder = msgspec.json.Encoder()
NOTES = ".settling"
TAIL_BYTES = 1 << 20


class SettleNotes:
    """The settle notes of one instance."""

    def __init__(self, layout: Layout, instance: str) -> None:
        self.layout = layout
        self.instance = instance
        self.directory = layout.claims_of(instance) / NOTES

    def write(self, claim: Path, line: MetricLine) -> None:
        """Note that `claim` settles with `line`. Not fsynced: it guards against a
        crash of the process, as the move to done/ it precedes is not fsynced
        either. OSError propagates (the caller settles without a note)."""
        st = os.lstat(claim)
        data = json.dumps({"name": claim.name, "ino": st.st_ino,
                           "line": _encoder.encode(line).decode()}).encode()
        self.directory.mkdir(mode=0o700, exist_ok=True)
        atomic_write(self.directory / claim.name, data, durable=False, point="settle.note")

    def clear(self, name: str) -> None:
        """The handoff settled (or went back): forget its note."""
        try:
            os.unlink(self.directory / name)
        except FileNotFoundError:
            pass

    def pending(self) -> bool:
        """Whether any note is left (a crash cut a settling short)."""
        try:
            with os.scandir(self.directory) as it:
                return any(not e.name.startswith(".") for e in it)
        except FileNotFoundError:
            return False

    def has(self, name: str) -> bool:
        """Whether the claim `name` is being settled (or was, when a crash came)."""
        return os.path.lexists(self.directory / name)


def finish_settling(layout: Layout, owner: str, append: Callable[[MetricLine], None]) -> int:
    """Complete every settle note of instance `owner` (see the module doc),
    appending lines with `append`. Returns how many handoffs were completed.

    An OSError of a move leaves that claim where it is (it is handed back like
    any other claim); an OSError of `append` propagates, after the move.
    """
    directory = layout.claims_of(owner) / NOTES
    try:
        notes = sorted(e.name for e in os.scandir(directory) if not e.name.startswith("."))
    except FileNotFoundError:
        return 0
    completed = 0
    for name in notes:
        path = directory / name
        try:
            note = json.loads(path.read_bytes())
            line = _decoder.decode(note["line"].encode())
            ino = int(note["ino"])
        except FileNotFoundError:
            continue
        except (OSError, ValueError, KeyError, TypeError, msgspec.DecodeError):
            path.unlink(missing_ok=True)  # unreadable: it promises nothing
            continue
        try:
            os.unlink(path)  # taken: of several finishers, one gets here
        except FileNotFoundError:
            continue
        claim = layout.claims_of(owner) / name
        published = bool(line.challenger) and os.path.lexists(layout.challengers
                                                              / str(line.challenger))
        if _inode(claim) == ino and published:
            try:
                move_unique(claim, layout.done, name)
            except FileNotFoundError:
                continue
            append(line)
            completed += 1
        elif _in_done(layout.done, name, ino):
            if _encoder.encode(line) not in _tail(layout.metrics):
                append(line)
            completed += 1
    return completed


def _inode(path: Path) -> int | None:
    try:
        return os.lstat(path).st_ino
    except FileNotFoundError:
        return None


def _in_done(done: Path, name: str, ino: int) -> bool:
    """Whether `done/` holds inode `ino` under `name` or a unique variant of it:
    the move took the first free name of that sequence, so the search stops at
    the first name that is free."""
    for candidate in unique_names(name):
        found = _inode(done / candidate)
        if found is None:
            return False
        if found == ino:
            return True
    return False  # pragma: no cover - unique_names never ends


def _tail(metrics: Path) -> bytes:
    try:
        with open(metrics, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            fh.seek(max(0, size - TAIL_BYTES))
            return fh.read()
    except FileNotFoundError:
        return b""
