"""The telemetry writer: challengers (durable, one per result) and metrics lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from actors.base import SupervisedActor
from messages.commands import Flush, RecordMetric, WriteChallenger
from state.challengers import ChallengerStore
from state.metrics import MetricsLog


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
            case RecordMetric(line=line):
                try:
                    self.metrics.append(line)
                except OSError as exc:
                    self.log.warning("metrics line {} not written: {}", line.event, exc)
                return None
            case Flush():
                return True
        raise TypeError(f"telemetry cannot handle {type(message).__name__}")

    @staticmethod
    def challenger_path(text: str) -> Path:
        return Path(text)
