"""The timed pruner: TTL pruning on the configured schedule, and the janitor."""

from __future__ import annotations

import time
from typing import Any

from repairlab.actors.base import SupervisedActor
from repairlab.messages.commands import PruneNow, RecordMetric, Tick
from repairlab.messages.records import MetricLine, rfc3339
from repairlab.state.clock import StateClock
from repairlab.state.janitor import Janitor
from repairlab.state.metrics import rotate_metrics
from repairlab.state.prune import PruneReport, PruneSchedule, next_boundary


class Pruner(SupervisedActor):
    """Prunes everything older than `prune.ttl_seconds` at each boundary of
    `prune.schedule`, and once at start if a run was missed while down.

    A prune that fails (OSError) is logged and tried again at the next tick;
    it never touches claims or deferred handoffs. When a run is due is a matter of
    this host's calendar (its wall clock); what a run removes is judged by the
    state root's clock (`state/clock.py`), so a wall clock stepped forward can make
    a run come early but never remove anything before its TTL.

    At every tick (at least twice a lease) the janitor (`state/janitor.py`) looks
    for orphan temporary files and reason files without a handoff, and removes
    those unchanged for a lease.
    """

    kind = "pruner"
    tick_seconds = 30.0

    def start_up(self) -> None:
        layout = self.runtime.layout
        self.schedule = PruneSchedule(layout)
        self.clock = StateClock(layout.instances)
        self.janitor = Janitor(layout)
        if self.schedule.due(self.config.prune.schedule, time.time()):
            self.actor_ref.tell(PruneNow())
        lease = self.config.instance.lease_seconds
        self.every(min(self.tick_seconds, max(0.5, lease / 2)))

    def handle(self, message: Any) -> Any:
        match message:
            case Tick():
                self.sweep()
                if self.schedule.due(self.config.prune.schedule, time.time()):
                    return self.run(None)
                return None
            case PruneNow(now=now, dry_run=dry_run):
                return self.run(now, dry_run=dry_run)
        raise TypeError(f"pruner cannot handle {type(message).__name__}")

    def sweep(self) -> None:
        """One look of the janitor; an OSError is logged, the next tick looks again."""
        try:
            removed = self.janitor.sweep(self.config.instance.lease_seconds)
        except OSError as exc:
            self.log.warning("cannot sweep leftovers: {}", exc)
            return
        for path in removed:
            self.log.info("removed leftover {}", path)

    def run(self, now: float | None, *, dry_run: bool = False) -> dict[str, Any]:
        """One prune at `now` (default: the state root's clock); returns a
        summary (files, bytes)."""
        config = self.config
        now = self.clock.now() if now is None else now
        try:
            report: PruneReport = self.runtime.backend.prune(config.prune.ttl_seconds, now=now,
                                                             dry_run=dry_run)
        except OSError as exc:
            if not self.report_disk(exc):  # a full root: the watcher says so, once
                self.log.warning("prune failed, will retry: {}", exc)
            return {"error": str(exc)}
        if not dry_run:
            _trim_heap()
            self.rotate_metrics()
            try:
                self.schedule.mark(time.time())  # the calendar's clock, as `due` reads it
            except OSError as exc:  # pruning is idempotent: the next tick runs it again
                if not self.report_disk(exc):
                    self.log.warning("prune ran but its time was not recorded: {}", exc)
            line = MetricLine(ts=rfc3339(time.time()), event="pruned",
                              instance=self.runtime.instance, meta_repair=False,
                              bytes=report.bytes_freed,
                              reason=f"{len(report.removed)} entries older than "
                                     f"{config.prune.ttl_seconds:g}s")
            self.runtime.peers.tell("telemetry", RecordMetric(line=line))
            self.log.info("pruned {} entries, {} bytes; next at {}", len(report.removed),
                          report.bytes_freed,
                          rfc3339(next_boundary(config.prune.schedule, time.time())))
        return {"removed": [str(p) for p, _ in report.removed], "bytes": report.bytes_freed}

    def rotate_metrics(self) -> None:
        """Rotate `metrics.jsonl` past `[prune] metrics_max_bytes` (writers notice
        and reopen by themselves). An OSError is logged; the next run tries again."""
        try:
            rotated = rotate_metrics(self.runtime.layout.metrics,
                                     self.config.prune.metrics_max_bytes)
        except OSError as exc:
            if not self.report_disk(exc):
                self.log.warning("metrics rotation failed, will retry: {}", exc)
            return
        if rotated is not None:
            self.log.info("rotated metrics.jsonl to {}", rotated.name)



def _trim_heap() -> None:
    """Give the heap freed by a prune back to the system (glibc `malloc_trim`).

    A prune lists and removes a TTL's worth of entries at once; what it frees
    otherwise stays in the daemon's RSS as free heap until reused, so the RSS of
    a months-long process would carry the high-water mark of its largest prune.
    Nothing is done where this is not glibc."""
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass
