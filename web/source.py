"""What the web window reads and does, behind one small interface.

The routes, the metrics collector and the dashboard never look at files: they
ask a `StateSource`. `BackendSource` answers through the backend seam
(`state.backend`), opened as the operator commands open it, so it works on
either backend, `/api/status` and `/api/quarantine` are the documents of
`status --json` and `quarantine list --json`, and a release from the page is
the release of `quarantine release`: same name checks, same moves, same
metrics line.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import msgspec

from repairlab.config.schema import Config
from repairlab.errors import UsageError
from repairlab.messages.records import Challenger, MetricLine, TestCounts
from repairlab.messages.reports import QuarantineEntry, QuarantineList, ReleaseResult, StatusReport
from repairlab.state.backend import EventCursor
from repairlab.state.census import in_flight_by_instance
from repairlab.state.claims import is_handoff_name
from repairlab.state.clock import fs_now
from repairlab.state.layout import Layout
from repairlab.web.events import EventTally


class RecentRepair(msgspec.Struct, kw_only=True):
    """One challenger as the dashboard lists it (without its `files`)."""

    tool: str
    lineage: str | None = None
    repair_strategy: str
    repair_pattern_id: str | None = None
    created_at: str
    diff: str = ""
    handoff_name: str | None = None
    instance: str = ""
    tests: TestCounts | None = None


class Gauges(msgspec.Struct, frozen=True, kw_only=True):
    """The gauges of `/metrics` (SPEC §10), as of one moment."""

    queue: int
    oldest_claimable_s: float | None
    in_flight: int
    deferred: int
    quarantined: int
    instances_alive: int


class StateSource(Protocol):
    """The read side (and the two operator actions) the web needs from a backend."""

    def status(self) -> StatusReport:
        """As `status --json`. Raises UsageError when the state is not there."""
        ...

    def quarantine(self) -> QuarantineList:
        """As `quarantine list --json`."""
        ...

    def release(self, name: str) -> ReleaseResult:
        """As `quarantine release NAME`. Raises UsageError for no such handoff."""
        ...

    def release_all(self) -> tuple[list[ReleaseResult], list[str]]:
        """As `quarantine release --all`: released, and one error line per failure."""
        ...

    def recent_repairs(self, limit: int) -> list[RecentRepair]:
        """The newest `limit` challengers, newest first."""
        ...

    def held(self) -> dict[str, list[str]]:
        """Instance id -> the names of the handoffs it holds now."""
        ...

    def oldest_claimable_age(self) -> float | None:
        """Seconds the oldest handoff that could be claimed now has waited (a
        handoff backing off counts only once its wait is over, from then on)."""
        ...

    def gauges(self) -> Gauges:
        """The `/metrics` gauges, cheaply (a scrape every few seconds must not
        count 100,000 finished handoffs); equal to what `status` reports."""
        ...

    def history(self) -> EventTally:
        """The event counts, brought up to date with the events since last time."""
        ...


def held_on_disk(layout: Layout) -> dict[str, list[str]]:
    """Instance id -> the names under `claims/<instance>/` (vanished ones skipped)."""
    held: dict[str, list[str]] = {}
    try:
        with os.scandir(layout.claims) as it:
            owners = [Path(e.path) for e in it if e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return held
    for owner in owners:
        try:
            held[owner.name] = sorted(n for n in os.listdir(owner) if not n.startswith("."))
        except FileNotFoundError:
            continue
    return held


def gauges_on_disk(layout: Layout, lease_seconds: float) -> Gauges:
    """The gauges from the few small places that hold them (`queue/`,
    `deferred/`, `claims/`, `processed/hard_fail/`, `instances/`), counted as
    `state.status.take_status` counts them; `processed/done/` and `challengers/`,
    the large ones, are not listed. Places that do not exist count zero; a root
    that does not exist raises UsageError, as `take_status` does."""
    if not layout.root.is_dir():
        raise UsageError(f"state root {layout.root} does not exist (wrong --config?)")
    now = fs_now(layout.instances)
    alive = 0
    try:
        with os.scandir(layout.instances) as it:
            for entry in it:
                if entry.name.startswith(".") or not entry.name.endswith(".json"):
                    continue
                try:
                    if entry.stat(follow_symlinks=False).st_mtime > now - lease_seconds:
                        alive += 1
                except FileNotFoundError:
                    continue
    except FileNotFoundError:
        pass
    return Gauges(
        queue=_count(layout.queue, lambda n: is_handoff_name(n)),
        oldest_claimable_s=oldest_claimable_on_disk(layout, now),
        in_flight=sum(in_flight_by_instance(layout).values()),
        deferred=_count(layout.deferred, lambda n: not n.startswith(".")),
        quarantined=_count(layout.hard_fail,
                           lambda n: is_handoff_name(n) and not n.endswith(".reason.json")),
        instances_alive=alive)


def _count(directory: Path, wanted: Callable[[str], bool]) -> int:
    try:
        return sum(1 for name in os.listdir(directory) if wanted(name))
    except FileNotFoundError:
        return 0


def oldest_claimable_on_disk(layout: Layout, now: float | None = None) -> float | None:
    """Seconds since the oldest claimable handoff became claimable, by the state
    root's clock: a handoff in `queue/` since it arrived (its mtime), one in
    `deferred/` since its not-before (its mtime) once that has passed; one still
    backing off does not count. None when there is none."""
    now = fs_now(layout.instances) if now is None else now
    oldest: float | None = None
    for directory, due_only in ((layout.queue, False), (layout.deferred, True)):
        try:
            with os.scandir(directory) as it:
                for entry in it:
                    if entry.name.startswith(".") or not entry.name.endswith(".json"):
                        continue
                    try:
                        mtime = entry.stat(follow_symlinks=False).st_mtime
                    except FileNotFoundError:
                        continue
                    if due_only and mtime > now:
                        continue
                    if oldest is None or mtime < oldest:
                        oldest = mtime
        except FileNotFoundError:
            continue
    return None if oldest is None else max(0.0, round(now - oldest, 3))


class SeamReads(Protocol):
    """The part of the backend seam (`state.backend.Backend`) the window uses;
    `state.fs_reads.FilesystemReads` has it too."""

    def status(self) -> StatusReport: ...
    def quarantined(self) -> list[QuarantineEntry]: ...
    def release(self, name: str) -> ReleaseResult: ...
    def release_all(self) -> tuple[list[ReleaseResult], list[str]]: ...
    def recent_challengers(self, limit: int) -> list[Challenger]: ...
    def events(self, cursor: EventCursor | None) -> tuple[list[MetricLine], EventCursor]: ...


class BackendSource:
    """`StateSource` over the backend seam (`state.backend.Backend`), for either
    backend: the reports, the releases and the events all come from it; the
    events incrementally, from the cursor it hands back.

    What the seam does not carry is read from the disk where the state is a
    filesystem root (which handoffs each instance holds, and the age of the
    oldest claimable handoff, which the seam's status counts from `queue/` only);
    on PostgreSQL the holdings show as counts and the age is the status's.
    """

    def __init__(self, backend: SeamReads, config: Config) -> None:
        self.backend = backend
        self.layout = (Layout.from_config(config) if config.backend.kind == "filesystem"
                       else None)
        self.lease_seconds = config.instance.lease_seconds
        self._tally = EventTally()
        self._cursor: EventCursor | None = None
        self._events_lock = threading.Lock()

    def status(self) -> StatusReport:
        return self.backend.status()

    def quarantine(self) -> QuarantineList:
        return QuarantineList(entries=self.backend.quarantined())

    def release(self, name: str) -> ReleaseResult:
        return self.backend.release(name)

    def release_all(self) -> tuple[list[ReleaseResult], list[str]]:
        return self.backend.release_all()

    def recent_repairs(self, limit: int) -> list[RecentRepair]:
        return [RecentRepair(
            tool=c.tool, lineage=c.lineage, repair_strategy=c.repair_strategy,
            repair_pattern_id=c.repair_pattern_id, created_at=c.created_at, diff=c.diff,
            handoff_name=c.handoff_name, instance=c.instance, tests=c.tests)
            for c in self.backend.recent_challengers(limit)]

    def held(self) -> dict[str, list[str]]:
        return held_on_disk(self.layout) if self.layout is not None else {}

    def oldest_claimable_age(self) -> float | None:
        if self.layout is not None:
            return oldest_claimable_on_disk(self.layout)
        return self.backend.status().oldest_queued_age_s

    def gauges(self) -> Gauges:
        if self.layout is not None:
            return gauges_on_disk(self.layout, self.lease_seconds)
        status = self.backend.status()
        return Gauges(queue=status.queue, oldest_claimable_s=status.oldest_queued_age_s,
                      in_flight=status.in_flight, deferred=status.waiting,
                      quarantined=status.quarantined,
                      instances_alive=sum(1 for i in status.instances if i.alive))

    def history(self) -> EventTally:
        with self._events_lock:  # one reader at a time: each event is counted once
            lines, self._cursor = self.backend.events(self._cursor)
            self._tally.add(lines)
        return self._tally
