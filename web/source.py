"""What the web window reads and does, behind one small interface.

The routes, the metrics collector and the dashboard never look at files: they
ask a `StateSource`. `FsSource` answers from a filesystem state root with the
very functions the command line uses (`take_status`, `quarantine_ops`), so
`/api/status` and `/api/quarantine` are the documents of `status --json` and
`quarantine list --json`, and a release from the page is the release of
`quarantine release`: same name checks, same moves, same metrics line.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import msgspec

from config.schema import Config
from errors import UsageError
from messages.records import TestCounts
from messages.reports import QuarantineList, ReleaseResult, StatusReport
from state import quarantine_ops
from state.backend import Backend, EventCursor
from state.census import in_flight_by_instance
from state.claims import is_handoff_name
from state.clock import fs_now
from state.layout import Layout
from state.metrics import metrics_files
from state.status import take_status
from web.events import EventTally, MetricsTail

MAX_CHALLENGER_BYTES = 64 << 20


class RecentRepair(msgspec.Struct, kw_only=True):
    """One challenger as the dashboard lists it (its `files` are not read)."""

    tool: str
    name: str = ""
    lineage: str | None = None
    repair_strategy: str
    repair_pattern_id: str | None = None
    created_at: str
    diff: str = ""
    handoff_name: str | None = None
    instance: str = ""
    tests: TestCounts | None = None


_recent_decoder = msgspec.json.Decoder(RecentRepair)


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


class FsSource:
    """`StateSource` over a filesystem state root (reads; release moves files
    exactly as the command line does)."""

    def __init__(self, config: Config, layout: Layout | None = None) -> None:
        self.config = config
        self.layout = layout or Layout.from_config(config)
        self._tally = EventTally()
        self._tail = MetricsTail(lambda: metrics_files(self.layout.metrics), self._tally)
        self._names_lock = threading.Lock()
        self._names: tuple[int, list[str]] = (-1, [])

    def status(self) -> StatusReport:
        return take_status(self.layout, self.config)

    def quarantine(self) -> QuarantineList:
        return QuarantineList(entries=quarantine_ops.list_quarantined(self.layout))

    def release(self, name: str) -> ReleaseResult:
        return quarantine_ops.release(self.layout, name, self.config.instance.id)

    def release_all(self) -> tuple[list[ReleaseResult], list[str]]:
        return quarantine_ops.release_all(self.layout, self.config.instance.id)

    def recent_repairs(self, limit: int) -> list[RecentRepair]:
        found: list[RecentRepair] = []
        for name in reversed(self._challenger_names()):
            if len(found) >= limit:
                break
            try:
                with open(self.layout.challengers / name, "rb") as fh:
                    data = fh.read(MAX_CHALLENGER_BYTES + 1)
                if len(data) > MAX_CHALLENGER_BYTES:
                    continue
                repair = _recent_decoder.decode(data)
            except (OSError, msgspec.DecodeError):
                continue  # pruned meanwhile, or not a challenger
            repair.name = name
            found.append(repair)
        return found

    def _challenger_names(self) -> list[str]:
        """Challenger names, oldest first; listed again only when the directory
        changed (its mtime), since 100,000 of them take a while to list (and
        sorted by name, which sorts them by creation: SPEC §3)."""
        directory = self.layout.challengers
        try:
            stamp = os.stat(directory).st_mtime_ns
        except FileNotFoundError:
            return []
        # A change within the same coarse timestamp tick as the listing would keep
        # the stamp: a directory changed in the last second is always listed again.
        settled = time.time_ns() - stamp > 1_000_000_000
        with self._names_lock:
            if settled and stamp == self._names[0]:
                return self._names[1]
        try:
            with os.scandir(directory) as it:
                names = sorted(e.name for e in it
                               if e.name.startswith("challenger_") and e.name.endswith(".json"))
        except FileNotFoundError:
            names = []
        with self._names_lock:
            self._names = (stamp, names)
        return names

    def held(self) -> dict[str, list[str]]:
        return held_on_disk(self.layout)

    def oldest_claimable_age(self) -> float | None:
        return oldest_claimable_on_disk(self.layout)

    def gauges(self) -> Gauges:
        return gauges_on_disk(self.layout, self.config.instance.lease_seconds)

    def history(self) -> EventTally:
        self._tail.catch_up()
        return self._tally


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


class BackendSource:
    """`StateSource` over the backend seam (`state.backend.Backend`), for either
    backend: the reports, the releases and the events all come from it; the
    events incrementally, from the cursor it hands back.

    What the seam does not carry is read from the disk where the state is a
    filesystem root (which handoffs each instance holds, and the age of the
    oldest claimable handoff, which the seam's status counts from `queue/` only);
    on PostgreSQL the holdings show as counts and the age is the status's.
    """

    def __init__(self, backend: Backend, config: Config) -> None:
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
