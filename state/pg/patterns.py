"""The pattern library in the database, so that every host learns from every
repair (SPEC §9): `repair.patterns.PatternLibrary` with its storage swapped.

Ranking (`candidates`) and learning (`learn`) are the library's own; only where
patterns live changes. A pattern is one row, unique by its content key (tool,
kind, normalized source: learned once, whichever host learns it first) and by
its id (`<tool>:c<NNNN>`: a number another host took meanwhile makes the insert
fail, and the next number is tried). The in-memory index reads only rows newer
than the last one it saw, plus the set of ids (to drop what another host pruned).

BackendUnavailable (an OSError, as the file library's errors are) propagates
from reads and from `learn`; the repair goes on without patterns.
"""

from __future__ import annotations

import threading

import msgspec
import psycopg.errors
from loguru import logger

from repairlab.repair.bundle import Bundle
from repairlab.repair.definitions import Definition, imports_used
from repairlab.repair.patterns import (
    _DECODER,
    _ENCODER,
    MAX_STORED,
    Pattern,
    PatternLibrary,
    _now_rfc3339,
)
from repairlab.state.pg.connector import PgConnector

_MAX_NUMBER_TRIES = 100


class PgPatternLibrary(PatternLibrary):
    """The patterns of one database (see the module doc)."""

    def __init__(self, db: PgConnector, *, max_stored: int = MAX_STORED) -> None:
        # Not PatternLibrary.__init__: it opens a directory.
        self.db = db
        self.max_stored = max_stored
        self._lock = threading.RLock()
        self._index: dict[str, Pattern] = {}
        self._rows: dict[int, str] = {}  # row id -> the index's key
        self._last = 0
        self._bad: set[str] = set()
        self._refresh()

    def close(self) -> None:
        """Nothing to release: the connector belongs to the backend."""

    def _refresh(self) -> dict[str, Pattern]:
        with self._lock:
            for row in self.db.all("patterns_after", after=self._last):
                self._last = max(self._last, int(row["id"]))
                try:
                    pattern = _DECODER.decode(bytes(row["body"]))
                except msgspec.DecodeError as exc:
                    if row["pattern_id"] not in self._bad:
                        self._bad.add(row["pattern_id"])
                        logger.warning("pattern {} skipped: {}", row["pattern_id"], exc)
                    continue
                key = f"{pattern.id}.json"
                self._index[key] = pattern
                self._rows[int(row["id"])] = key
            present = {int(r["id"]) for r in self.db.all("pattern_ids")}
            for gone in set(self._rows) - present:
                self._index.pop(self._rows.pop(gone), None)
            return dict(self._index)

    def _next_number(self, tool: str) -> int:
        row = self.db.one("next_pattern_number", tool=tool)
        return int(row["number"]) if row else 1

    def _store(self, bundle: Bundle, definition: Definition, key: str, module: str,
               source_sha256: str, ts: float, number: int) -> Pattern | None:
        for _ in range(_MAX_NUMBER_TRIES):
            pattern = Pattern(
                id=f"{bundle.tool}:c{number:04d}", tool=bundle.tool, name=definition.name,
                kind=definition.kind, signature=definition.signature, params=definition.params,
                source=definition.source, imports=imports_used(module, definition.uses),
                content_sha256=key, code_sha256=definition.content_sha256,
                source_sha256=source_sha256, entrypoint=bundle.entrypoint,
                learned_at=_now_rfc3339(ts), learned_ts=ts)
            try:
                row = self.db.one("insert_pattern", tool=bundle.tool, pattern_id=pattern.id,
                                  content_sha256=key, body=_ENCODER.encode(pattern))
            except psycopg.errors.UniqueViolation:
                number += 1  # another host took this number: the next one
                continue
            if row is None:  # this content is stored already (another library learned it):
                self._refresh()  # read it, so that the next learn of it asks nothing
                return None
            with self._lock:
                self._index[f"{pattern.id}.json"] = pattern
                self._rows[int(row["id"])] = f"{pattern.id}.json"
            return pattern
        raise OSError(f"no free pattern number for {bundle.tool}")

    def prune(self, *, now: float | None = None) -> list[str]:
        """The oldest patterns past `max_stored` go (each tool's newest is kept, so
        an id is never reused)."""
        index = self._refresh()
        excess = len(index) - self.max_stored
        if excess <= 0:
            return []
        newest: dict[str, int] = {}
        for p in index.values():
            newest[p.tool] = max(newest.get(p.tool, 0), p.number)
        oldest = sorted((p for p in index.values() if p.number != newest[p.tool]),
                        key=lambda p: (p.learned_ts, p.id))
        removed = []
        for pattern in oldest[:excess]:
            self.db.execute("delete_pattern", pattern_id=pattern.id)
            removed.append(pattern.id)
        if removed:
            logger.info("pattern library pruned {} oldest patterns", len(removed))
            self._refresh()
        return removed
