"""The timed pruner: TTL pruning on the configured schedule."""

from __future__ import annotations

import time
from typing import Any

from actors.base import SupervisedActor
from messages.commands import PruneNow, RecordMetric, Tick
from messages.records import MetricLine, rfc3339
from state.metrics import rotate_metrics
from state.prune import PruneReport, PruneSchedule, next_boundary, prune


class Pruner(SupervisedActor):
    """Prunes everything older than `prune.ttl_seconds` at each boundary of
    `prune.schedule`, and once at start if a run was missed while down.

    A prune that fails (OSError) is logged and tried again at the next tick;
    it never touches claims or deferred handoffs.
    """

    kind = "pruner"
    tick_seconds = 30.0

    def start_up(self) -> None:
        self.schedule = PruneSchedule(self.runtime.layout)
        if self.schedule.due(self.config.prune.schedule, time.time()):
            self.actor_ref.tell(PruneNow())
        self.every(self.tick_seconds)

    def handle(self, message: Any) -> Any:
        match message:
            case Tick():
                now = time.time()
                if self.schedule.due(self.config.prune.schedule, now):
                    return self.run(now)
                return None
            case PruneNow(now=now, dry_run=dry_run):
                return self.run(time.time() if now is None else now, dry_run=dry_run)
        raise TypeError(f"pruner cannot handle {type(message).__name__}")

    def run(self, now: float, *, dry_run: bool = False) -> dict[str, Any]:
        """One prune at `now`; returns a summary (files, bytes)."""
        config = self.config
        try:
            report: PruneReport = prune(self.runtime.layout, config.prune.ttl_seconds, now=now,
                                        dry_run=dry_run)
        except OSError as exc:
            self.log.warning("prune failed, will retry: {}", exc)
            return {"error": str(exc)}
        if not dry_run:
            _trim_heap()
            self.rotate_metrics()
            try:
                self.schedule.mark(now)
            except OSError as exc:  # pruning is idempotent: the next tick runs it again
                self.log.warning("prune ran but its time was not recorded: {}", exc)
            line = MetricLine(ts=rfc3339(time.time()), event="pruned",
                              instance=self.runtime.instance, meta_repair=False,
                              bytes=report.bytes_freed,
                              reason=f"{len(report.removed)} entries older than "
                                     f"{config.prune.ttl_seconds:g}s")
            self.runtime.peers.tell("telemetry", RecordMetric(line=line))
            self.log.info("pruned {} entries, {} bytes; next at {}", len(report.removed),
                          report.bytes_freed,
                          rfc3339(next_boundary(config.prune.schedule, now)))
        return {"removed": [str(p) for p, _ in report.removed], "bytes": report.bytes_freed}

    def rotate_metrics(self) -> None:
        """Rotate `metrics.jsonl` past `[prune] metrics_max_bytes` (writers notice
        and reopen by themselves). An OSError is logged; the next run tries again."""
        try:
            rotated = rotate_metrics(self.runtime.layout.metrics,
                                     self.config.prune.metrics_max_bytes)
        except OSError as exc:
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
