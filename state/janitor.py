"""Leftovers of crashes: orphan temporary files and reason files without a handoff.

A process killed in the middle of a write leaves its temporary file behind
(`.NAME.<12 hex>.tmp` of `atomic_write` and `write_exclusive`, `.tmp-<32 hex>.json`
of a challenger); one killed between writing a reason file and moving its handoff
beside it (or an operator's release, between the move and the unlink) leaves a
`NAME.reason.json` with no `NAME.json`. Nothing else ever removes them.

Whether one is a leftover is judged by watching, as peers are (`state/liveness.py`):
a candidate goes once it has stayed exactly as it was (same inode, size, mtime and
ctime; for a reason file, still without its handoff) for a whole lease of this
instance's monotonic clock. Every write the daemon does completes within moments,
so a file that has not changed for a lease belongs to no live writer; no wall
clock, of this process or another, is read. Files only ever seen once are never
removed, and files of other programs (a producer's `queue/.NAME.tmp`) do not
match the names.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from repairlab.state.layout import Layout

_TEMP = re.compile(r"\..+\.[0-9a-f]{12}\.tmp|\.tmp-[0-9a-f]{32}\.json")
REASON_SUFFIX = ".reason.json"

Signature = tuple[int, int, int, int]


def is_temporary(name: str) -> bool:
    """A name the daemon's own temporary writes use."""
    return _TEMP.fullmatch(name) is not None


class Janitor:
    """Watches for leftovers under one state root and removes them (see module doc)."""

    def __init__(self, layout: Layout, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.layout = layout
        self.monotonic = monotonic
        self.seen: dict[Path, tuple[Signature, float]] = {}

    def _places(self) -> Iterator[Path]:
        """Every directory the daemon writes temporary files in."""
        layout = self.layout
        # Not done/, deferred/ or the index: only renames and links arrive there.
        yield from (layout.hard_fail, layout.corrupt, layout.challengers, layout.instances,
                    layout.schedule)
        for parent in (layout.failures, layout.claims):
            try:
                with os.scandir(parent) as it:
                    subdirs = [Path(e.path) for e in it if e.is_dir(follow_symlinks=False)]
            except FileNotFoundError:
                continue
            for sub in subdirs:
                yield sub
                if parent == layout.claims:
                    yield sub / ".settling"

    def candidates(self) -> dict[Path, Signature]:
        """Temporary files anywhere, and reason files whose handoff is missing."""
        found: dict[Path, Signature] = {}
        for place in dict.fromkeys(self._places()):
            reason_place = place in (self.layout.hard_fail, self.layout.corrupt)
            try:
                with os.scandir(place) as it:
                    entries = list(it)
            except (FileNotFoundError, NotADirectoryError):
                continue
            for entry in entries:
                name = entry.name
                if is_temporary(name):
                    pass
                elif reason_place and name.endswith(REASON_SUFFIX) and not name.startswith("."):
                    handoff = place / (name[:-len(REASON_SUFFIX)] + ".json")
                    if os.path.lexists(handoff):
                        continue
                else:
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                found[Path(entry.path)] = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        return found

    def sweep(self, lease_seconds: float) -> list[Path]:
        """Look once; remove the candidates unchanged for `lease_seconds` of this
        instance's monotonic clock. Returns what was removed. A file that vanishes
        meanwhile (another instance swept it, a writer finished) is skipped; other
        OSErrors propagate."""
        now = self.monotonic()
        current = self.candidates()
        removed = []
        for path, sig in current.items():
            before = self.seen.get(path)
            if before is None or before[0] != sig:
                self.seen[path] = (sig, now)
                continue
            if now - before[1] < lease_seconds:
                continue
            if path.name.endswith(REASON_SUFFIX) and os.path.lexists(
                    path.with_name(path.name[:-len(REASON_SUFFIX)] + ".json")):
                continue  # its handoff arrived after all
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            else:
                removed.append(path)
            del self.seen[path]
        for gone in set(self.seen) - set(current):
            del self.seen[gone]
        return removed
