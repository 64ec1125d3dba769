"""The read and operator side of the seam on the filesystem (`state.backend.Backend`).

`FilesystemReads` is the part of `FilesystemBackend` (`state/fs_backend.py`) that
the operator's commands and the web window use: release, prune, status,
quarantine, lineage, challengers and events. Each method is today's function of
`state/` over the backend's layout, so the command line prints exactly what it
printed before the seam:

| method                                  | over                                   |
|-----------------------------------------|----------------------------------------|
| `release`, `release_all`                | `state.quarantine_ops`                 |
| `quarantined`, `quarantine_detail`      | `state.quarantine_ops`                 |
| `prune`                                 | `state.prune.prune`                    |
| `status`                                | `state.status.take_status`             |
| `lineage`                               | `state.lineage.build_lineage`          |
| `challengers`, `recent_challengers`     | `challengers/` (names sort oldest first) |
| `event_batches`                         | `state.stats.FileBatches`              |
| `events`                                | `state.event_tail.EventTail`           |

The reads (status, quarantined, quarantine_detail, lineage, challengers,
recent_challengers, event_batches, events) create and change nothing under the
root, and work beside running daemons; release and prune change what they say.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import msgspec

from repairlab.messages.records import Challenger, MetricLine
from repairlab.state import quarantine_ops
from repairlab.state.backend import EventCursor
from repairlab.state.event_tail import EventTail
from repairlab.state.lineage import build_lineage
from repairlab.state.metrics import MetricsLog, metrics_files
from repairlab.state.prune import PruneReport, prune
from repairlab.state.stats import EventBatches, FileBatches
from repairlab.state.status import take_status

if TYPE_CHECKING:
    from repairlab.config.schema import Config
    from repairlab.messages.reports import (
        LineageEntry,
        QuarantineDetail,
        QuarantineEntry,
        ReleaseResult,
        StatusReport,
    )
    from repairlab.state.layout import Layout

_challenger_decoder = msgspec.json.Decoder(Challenger)


def _is_challenger_name(name: str) -> bool:
    return name.startswith("challenger_") and name.endswith(".json")


class FilesystemReads:
    """The operator's methods of `Backend` for a state root on a local filesystem.

    A mixin without `__init__`: the class that inherits it
    (`FilesystemBackend(FilesystemReads, Backend)`) sets, in its constructor,

    - `self.config`: the `config.schema.Config` in force (a reload replaces it);
    - `self.layout`: the `state.layout.Layout` of the root (`Layout.from_config`);
    - `self.instance`: this instance's id (`[instance] id`), which release
      and the events it records are stamped with.

    Failure behaviour is that of the functions underneath: a missing root is a
    `UsageError` for `status`; a name not in quarantine is a `UsageError` for
    `release` and `quarantine_detail`; files that vanish while being read
    (released, pruned, rotated meanwhile) are left out, never fatal; other
    OSErrors propagate. `for_config` makes one usable on its own.
    """

    config: Config
    layout: Layout
    instance: str

    @classmethod
    def for_config(cls, config: Config, instance: str) -> StandaloneReads:
        """The reads of the root `config` names, on their own (no daemon's backend
        needed); creates nothing. Besides the reads it has `record_event` (one
        line appended to `metrics.jsonl`) and `close`, which `run.py prune` uses."""
        return StandaloneReads(config, instance)

    # -- quarantine --------------------------------------------------------------------

    def release(self, name: str) -> ReleaseResult:
        """See `Backend.release` (`quarantine_ops.release`)."""
        return quarantine_ops.release(self.layout, name, self.instance)

    def release_all(self) -> tuple[list[ReleaseResult], list[str]]:
        """See `Backend.release_all` (`quarantine_ops.release_all`)."""
        return quarantine_ops.release_all(self.layout, self.instance)

    def quarantined(self) -> list[QuarantineEntry]:
        """See `Backend.quarantined`: oldest quarantine first."""
        return quarantine_ops.list_quarantined(self.layout)

    def quarantine_detail(self, name: str) -> QuarantineDetail:
        """See `Backend.quarantine_detail` (UsageError when not quarantined)."""
        return quarantine_ops.show_quarantined(self.layout, name)

    # -- pruning and status ----------------------------------------------------------------

    def prune(self, ttl_seconds: float, *, now: float | None = None,
              dry_run: bool = False) -> PruneReport:
        """See `Backend.prune`; `now` defaults to the state root's clock."""
        return prune(self.layout, ttl_seconds, now=now, dry_run=dry_run)

    def status(self) -> StatusReport:
        """See `Backend.status` (`take_status`; UsageError for a missing root)."""
        return take_status(self.layout, self.config)

    def lineage(self, tool: str) -> list[LineageEntry]:
        """See `Backend.lineage` (UsageError when the root holds nothing of `tool`)."""
        return build_lineage(self.layout, tool)

    # -- challengers -------------------------------------------------------------------

    def _challenger_names(self) -> list[str]:
        try:
            with os.scandir(self.layout.challengers) as it:
                return sorted(e.name for e in it if _is_challenger_name(e.name))
        except FileNotFoundError:
            return []

    def challengers(self) -> Iterator[tuple[str, bytes]]:
        """See `Backend.challengers`: every `challenger_*.json` of `challengers/`,
        oldest first (their names sort by creation time), as stored. One pruned
        while this runs is left out."""
        for name in self._challenger_names():
            try:
                with open(self.layout.challengers / name, "rb") as fh:
                    data = fh.read()
            except FileNotFoundError:
                continue
            yield name, data

    def recent_challengers(self, limit: int) -> list[Challenger]:
        """See `Backend.recent_challengers`: newest first; one that vanished or
        does not decode is passed over (the next older takes its place)."""
        found: list[Challenger] = []
        for name in reversed(self._challenger_names()):
            if len(found) >= limit:
                break
            try:
                found.append(_challenger_decoder.decode(
                    (self.layout.challengers / name).read_bytes()))
            except (FileNotFoundError, msgspec.DecodeError):
                continue
        return found

    # -- events ------------------------------------------------------------------------

    def event_batches(self) -> Iterator[list[MetricLine]]:
        """See `Backend.event_batches`: the lines of the rotated metrics files and
        then `metrics.jsonl`, as a `state.stats.EventBatches` (whose `sources`
        are the files read)."""
        batches: EventBatches = FileBatches(metrics_files(self.layout.metrics))
        return batches

    def events(self, cursor: EventCursor | None) -> tuple[list[MetricLine], EventCursor]:
        """See `Backend.events` and `state.event_tail`: the cursor is a byte offset
        in a metrics file named by its inode; one stat when nothing is new."""
        return EventTail(self.layout.metrics).read(cursor)


class StandaloneReads(FilesystemReads):
    """`FilesystemReads.for_config`: the three attributes, and the two
    non-read methods that `run.py prune` needs of a backend."""

    def __init__(self, config: Config, instance: str) -> None:
        from repairlab.state.layout import Layout

        self.config = config
        self.layout = Layout.from_config(config)
        self.instance = instance

    def record_event(self, line: MetricLine) -> None:
        """One line appended to `metrics.jsonl` (OSError propagates)."""
        MetricsLog(self.layout.metrics, self.instance).append(line)

    def close(self) -> None:
        """Nothing is held open."""
