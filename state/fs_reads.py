"""STUB (wip-seam): the operator's reads of the filesystem backend.

The real `FilesystemReads` is written in the wip-reads branch; this stand-in
only lets `FilesystemBackend` be instantiated until that lands. It delegates
the reads that already exist as functions (release, prune, status, quarantine,
lineage) and raises NotImplementedError for the rest. On merge, take theirs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from messages.records import Challenger, MetricLine
    from messages.reports import (
        LineageEntry,
        QuarantineDetail,
        QuarantineEntry,
        ReleaseResult,
        StatusReport,
    )
    from state.backend import EventCursor
    from state.prune import PruneReport


class FilesystemReads:
    """The reads, over `self.layout` (`self.config`, `self.instance`)."""

    layout: Any
    config: Any
    instance: str

    def release(self, name: str) -> ReleaseResult:
        from state.quarantine_ops import release

        return release(self.layout, name, self.instance)

    def release_all(self) -> tuple[list[ReleaseResult], list[str]]:
        from state.quarantine_ops import release_all

        return release_all(self.layout, self.instance)

    def prune(self, ttl_seconds: float, *, now: float | None = None,
              dry_run: bool = False) -> PruneReport:
        from state.prune import prune

        return prune(self.layout, ttl_seconds, now=now, dry_run=dry_run)

    def status(self) -> StatusReport:
        from state.status import take_status

        return take_status(self.layout, self.config)

    def quarantined(self) -> list[QuarantineEntry]:
        from state.quarantine_ops import list_quarantined

        return list_quarantined(self.layout)

    def quarantine_detail(self, name: str) -> QuarantineDetail:
        from state.quarantine_ops import show_quarantined

        return show_quarantined(self.layout, name)

    def lineage(self, tool: str) -> list[LineageEntry]:
        from state.lineage import build_lineage

        return build_lineage(self.layout, tool)

    def challengers(self) -> Iterator[tuple[str, bytes]]:
        raise NotImplementedError("FilesystemReads.challengers: in wip-reads")

    def recent_challengers(self, limit: int) -> list[Challenger]:
        raise NotImplementedError("FilesystemReads.recent_challengers: in wip-reads")

    def event_batches(self) -> Iterator[list[MetricLine]]:
        raise NotImplementedError("FilesystemReads.event_batches: in wip-reads")

    def events(self, cursor: EventCursor | None) -> tuple[list[MetricLine], EventCursor]:
        raise NotImplementedError("FilesystemReads.events: in wip-reads")
