"""The telemetry writer: challengers (durable, one per result) and metrics lines."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import msgspec

from actors.base import SupervisedActor
from messages.commands import FinishRepair, RecordMetric
from messages.records import MetricLine
from state.challengers import ChallengerStore
from state.claims import Claims
from state.fsops import move_unique
from state.metrics import MetricsLog

RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0)  # a failed challenger write, then hand the claim back


class Telemetry(SupervisedActor):
    """Owns `challengers/` and `metrics.jsonl` for this instance.

    `FinishRepair` is told by a repairer whose bundle passed (see `finish`). A
    metrics line that cannot be written is logged and dropped: telemetry never
    blocks the repair of a bundle.
    """

    kind = "telemetry"

    def start_up(self) -> None:
        layout = self.runtime.layout
        self.store = ChallengerStore(layout.challengers)
        self.metrics = MetricsLog(layout.metrics, self.runtime.instance)

    def shut_down(self) -> None:
        metrics = getattr(self, "metrics", None)
        if metrics is not None:
            metrics.close()

    def handle(self, message: Any) -> Any:
        match message:
            case FinishRepair() as finish:
                self.finish(finish)
                return None
            case RecordMetric(line=line):
                self.append(line)
                return None
        raise TypeError(f"telemetry cannot handle {type(message).__name__}")

    def append(self, line: MetricLine) -> None:
        """Append one metrics line; an OSError is logged and the line dropped."""
        try:
            self.metrics.append(line)
        except OSError as exc:
            self.log.warning("metrics line {} not written: {}", line.event, exc)

    def finish(self, finish: FinishRepair) -> None:
        """Challenger durable first, then the handoff to done/, then the metrics
        line. A write that keeps failing hands the claim back to the queue (same
        attempt key; the redo finds nothing or this very challenger). If this actor
        dies with finishes still in its mailbox, the watcher hands their claims
        back when it restarts (`ActorRestarted`)."""
        claim = Path(finish.claim)
        log = self.log.bind(bundle=finish.challenger.bundle_sha256[:12], handoff=finish.name)
        for delay in (*RETRY_DELAYS, None):
            try:
                path, written = self.store.write(finish.challenger)
                break
            except OSError as exc:
                if delay is None:
                    log.warning("challenger not written ({}); handing {!r} back", exc,
                                finish.name)
                    Claims(self.runtime.layout, self.runtime.instance).requeue(claim)
                    return
                log.info("challenger write failed ({}); retrying in {:g}s", exc, delay)
                time.sleep(delay)
        try:
            move_unique(claim, self.runtime.layout.done, finish.name)
        except FileNotFoundError:
            return  # handed back meanwhile (a restart); the redo ends as a duplicate
        except OSError as exc:
            log.warning("cannot move {!r} to done/ ({}); handing it back", finish.name, exc)
            Claims(self.runtime.layout, self.runtime.instance).requeue(claim)
            return
        line = msgspec.structs.replace(finish.line, challenger=path.name,
                                       duplicate=not written)
        self.append(line)
        log.info("repaired {!r} with {}{}", finish.name, line.repair_strategy,
                 "" if written else " (duplicate)")
