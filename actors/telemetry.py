"""The telemetry writer: challengers (durable, one per result) and metrics lines."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import msgspec

from actors.base import SupervisedActor
from faults import inject
from messages.commands import FinishRepair, FlushFinishes, RecordMetric
from messages.records import Challenger, MetricLine
from state.challengers import ChallengerStore, Staged
from state.claims import Claims
from state.fsops import move_unique
from state.metrics import MetricsLog
from state.settle import SettleNotes, finish_settling

LINGER_SECONDS = 0.05  # a finish waits at most this long for others to share its fsyncs
MAX_BATCH = 32


class Telemetry(SupervisedActor):
    """Owns `challengers/` and `metrics.jsonl` for this instance.

    `FinishRepair` is told by a repairer whose bundle passed (see `flush`). A
    metrics line that cannot be written is logged and dropped: telemetry never
    blocks the repair of a bundle.
    """

    kind = "telemetry"

    def start_up(self) -> None:
        layout = self.runtime.layout
        self.store = ChallengerStore(layout.challengers)
        self.metrics = MetricsLog(layout.metrics, self.runtime.instance)
        self.notes = SettleNotes(layout, self.runtime.instance)
        self.batch: list[FinishRepair] = []
        try:  # a crash (of this actor or the process) between done/ and the line
            if self.notes.pending():
                self.store.sync()  # what the notes point at is durable before it settles
            finished = finish_settling(layout, self.runtime.instance, self.metrics.append)
        except OSError as exc:
            self.log.warning("cannot finish the settling of earlier repairs: {}", exc)
        else:
            if finished:
                self.log.info("finished settling {} repairs cut short by a crash", finished)

    def shut_down(self) -> None:
        if getattr(self, "batch", None) and not self._crash_reported:
            self.flush()  # a clean stop; after a crash the watcher hands them back
        metrics = getattr(self, "metrics", None)
        if metrics is not None:
            metrics.close()

    def handle(self, message: Any) -> Any:
        match message:
            case FinishRepair() as finish:
                self.batch.append(finish)
                if len(self.batch) >= MAX_BATCH:
                    self.flush()
                elif len(self.batch) == 1:
                    self.later(LINGER_SECONDS, FlushFinishes())
                return None
            case FlushFinishes():
                self.flush()
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

    def flush(self) -> None:
        """Finish the gathered repairs: each challenger written and fsynced, all
        published, both directories fsynced once for the lot (a group commit);
        then each handoff to done/ and its metrics line. A write that keeps
        failing hands its claim back to the queue (same attempt key; the redo
        finds nothing or this very challenger). If this actor dies with finishes
        gathered or still in its mailbox, the watcher hands their claims back when
        it restarts (`ActorRestarted`)."""
        batch, self.batch = self.batch, []
        if not batch:
            return
        published: list[tuple[FinishRepair, Any, MetricLine]] = []
        for finish in batch:
            log = self.log.bind(bundle=finish.challenger.bundle_sha256[:12], handoff=finish.name)
            try:
                path, written = self.retrying(partial(self._write, finish.challenger),
                                              "challenger write", log=log)
            except OSError as exc:
                log.warning("challenger write failed ({}); handing {!r} back", exc, finish.name)
                self._hand_back(finish)
                continue
            line = msgspec.structs.replace(finish.line, challenger=path.name,
                                           duplicate=not written)
            self._note(finish, line, log)
            published.append((finish, log, line))
        if any(not line.duplicate for _, _, line in published):
            try:
                self.retrying(self.store.sync, "challenger directory fsync")
            except OSError as exc:  # public, but not known to be durable
                self.log.warning("challenger directory fsync failed ({}); handing back {} handoffs",
                                 exc, len(published))
                for finish, _, _ in published:
                    self._hand_back(finish)
                return
        for finish, log, line in published:
            self._settle(finish, log, line)

    def _note(self, finish: FinishRepair, line: MetricLine, log: Any) -> None:
        """The settle note (`state/settle.py`): a crash from here on no longer
        loses the line. Without one (OSError), the handoff settles all the same."""
        try:
            self.notes.write(Path(finish.claim), line)
        except FileNotFoundError:
            pass  # handed back meanwhile: _settle finds it gone too
        except OSError as exc:
            log.warning("settle note not written ({}); settling without it", exc)

    def _write(self, challenger: Challenger) -> tuple[Path, bool]:
        staged = self.store.stage(challenger)
        return self.store.publish(staged) if isinstance(staged, Staged) else (staged, False)

    def _hand_back(self, finish: FinishRepair) -> None:
        Claims(self.runtime.layout, self.runtime.instance).requeue(Path(finish.claim))
        self.notes.clear(finish.name)

    def _settle(self, finish: FinishRepair, log: Any, line: MetricLine) -> None:
        """The challenger is durable: the handoff goes to done/, then its line,
        then its settle note goes."""
        try:
            move_unique(Path(finish.claim), self.runtime.layout.done, finish.name)
        except FileNotFoundError:
            self.notes.clear(finish.name)
            return  # handed back meanwhile (a restart); the redo ends as a duplicate
        except OSError as exc:
            log.warning("cannot move {!r} to done/ ({}); handing it back", finish.name, exc)
            self._hand_back(finish)
            return
        inject("telemetry.settle")
        self.append(line)
        self.notes.clear(finish.name)
        log.info("repaired {!r} with {}{}", finish.name, line.repair_strategy,
                 " (duplicate)" if line.duplicate else "")
