"""The telemetry writer: challengers (durable, one per result) and metrics lines."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import msgspec

from actors.base import SupervisedActor
from messages.commands import FinishRepair, Flush, RecordMetric, WriteChallenger
from state.challengers import ChallengerStore
from state.claims import Claims
from state.fsops import move_unique
from state.metrics import MetricsLog

RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0)  # a failed challenger write, then hand the claim back


class Telemetry(SupervisedActor):
    """Owns `challengers/` and `metrics.jsonl` for this instance.

    `WriteChallenger` is asked: the answer is (path, written_now) once the file
    and its directory are durable, or the OSError that stopped it (the caller
    keeps the handoff and retries). A metrics line that cannot be written is
    logged and dropped: telemetry never blocks the repair of a bundle.
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
            case WriteChallenger(challenger=challenger):
                path, written = self.store.write(challenger)
                if written:
                    self.log.bind(bundle=challenger.bundle_sha256[:12]).info(
                        "challenger {} ({})", path.name, challenger.repair_strategy)
                return str(path), written
            case FinishRepair() as finish:
                self.finish(finish)
                return None
            case RecordMetric(line=line):
                try:
                    self.metrics.append(line)
                except OSError as exc:
                    self.log.warning("metrics line {} not written: {}", line.event, exc)
                return None
            case Flush():
                return True
        raise TypeError(f"telemetry cannot handle {type(message).__name__}")

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
        try:
            self.metrics.append(line)
        except OSError as exc:
            log.warning("metrics line {} not written: {}", line.event, exc)
        log.info("repaired {!r} with {}{}", finish.name, line.repair_strategy,
                 "" if written else " (duplicate)")
