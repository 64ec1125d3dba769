"""The telemetry writer: settles repairs (challenger, done, event) and records events."""

from __future__ import annotations

from collections import deque
from typing import Any

from repairlab.actors.base import SupervisedActor
from repairlab.messages.commands import FinishRepair, FlushFinishes, RecordMetric
from repairlab.messages.records import MetricLine
from repairlab.state.backend import Claim, Finish

MAX_BATCH = 32  # finishes settled by one group commit, at most
UNSENT_MAX = 10_000  # metrics lines kept while the state root is full (oldest dropped)
UNSENT_RETRY_SECONDS = 1.0


class Telemetry(SupervisedActor):
    """Owns the settling of repairs and the recording of events for this
    instance, through the backend (`Backend.settle`, `Backend.record_event`).

    `FinishRepair` is told by a repairer whose bundle passed (or was repaired
    before: a duplicate). A finish is settled at once when no other finish waits
    in the mailbox (an idle daemon pays no wait at all); finishes that arrive
    while a settle is under way queue up meanwhile and are settled together by
    the next one, so batches grow exactly with the load (a group commit, as
    databases do it: no timer; on the filesystem one fsync of the directories
    for the lot). A metrics line that cannot be written is logged and dropped:
    telemetry never blocks the repair of a bundle. Except on a full or read-only
    state root: then the lines are kept in memory (up to `UNSENT_MAX`, in order)
    and written once the root takes writes again; only a stop before that loses
    them (logged).
    """

    kind = "telemetry"

    def start_up(self) -> None:
        self.backend = self.runtime.backend
        self.batch: list[FinishRepair] = []
        self.unsent: deque[MetricLine] = deque(maxlen=UNSENT_MAX)
        self.retry_set = False
        try:  # a crash (of this actor or the process) in the middle of a settle
            finished = self.backend.resume_settling()
        except OSError as exc:
            if not self.report_disk(exc):
                self.log.warning("cannot finish the settling of earlier repairs: {}", exc)
        else:
            if finished:
                self.log.info("finished settling {} repairs cut short by a crash", finished)

    def shut_down(self) -> None:
        if getattr(self, "batch", None) and not self._crash_reported:
            self.flush()  # a clean stop; after a crash the watcher hands them back
        if getattr(self, "unsent", None):
            self._send_unsent()
            if self.unsent:
                self.log.warning("{} metrics lines not written: the state root still "
                                 "cannot be written", len(self.unsent))

    def handle(self, message: Any) -> Any:
        match message:
            case FinishRepair() as finish:
                self.batch.append(finish)
                if len(self.batch) >= MAX_BATCH or not self._finishes_waiting():
                    self.flush()
                return None
            case FlushFinishes():
                self.flush()
                self.retry_set = False
                self._send_unsent()
                return None
            case RecordMetric(line=line):
                self.append(line)
                return None
        raise TypeError(f"telemetry cannot handle {type(message).__name__}")

    def _finishes_waiting(self) -> bool:
        """Whether another FinishRepair is in the mailbox already (it will join this
        batch); False when the mailbox cannot be looked into."""
        inbox = getattr(self, "actor_inbox", None)
        mutex = getattr(inbox, "mutex", None)
        pending = getattr(inbox, "queue", None)
        if mutex is None or pending is None:
            return False
        with mutex:
            return any(isinstance(getattr(env, "message", None), FinishRepair)
                       for env in pending)

    def append(self, line: MetricLine) -> None:
        """Record one event after any kept back. On a full or read-only root it
        is kept for later (see the class doc); any other OSError is logged and
        the line dropped."""
        if self.unsent:
            self.unsent.append(line)
            self._send_unsent()
            return
        try:
            self.backend.record_event(line)
        except OSError as exc:
            if self.report_disk(exc):
                self.unsent.append(line)
                self._retry_unsent_later()
            else:
                self.log.warning("metrics line {} not written: {}", line.event, exc)

    def _send_unsent(self) -> None:
        """Record the lines kept back, oldest first, until one fails again."""
        while self.unsent:
            try:
                self.backend.record_event(self.unsent[0])
            except OSError as exc:
                if not self.report_disk(exc):
                    self.log.warning("metrics line {} not written: {}",
                                     self.unsent[0].event, exc)
                    self.unsent.popleft()
                    continue
                self._retry_unsent_later()
                return
            self.unsent.popleft()

    def _retry_unsent_later(self) -> None:
        if not self.retry_set:
            self.retry_set = True
            self.later(UNSENT_RETRY_SECONDS, FlushFinishes())

    def flush(self) -> None:
        """Settle the gathered repairs (`Backend.settle`: each challenger durable,
        then the handoff to done/ and its event). A finish the backend could not
        settle is handed back to the queue (same attempt key; the redo finds
        nothing or this very challenger); one no longer ours is dropped. If this
        actor dies with finishes gathered or still in its mailbox, the watcher
        hands their claims back when it restarts (`ActorRestarted`)."""
        batch, self.batch = self.batch, []
        if not batch:
            return
        finishes = [Finish(claim=Claim(ref=f.claim, name=f.name), line=f.line,
                           challenger=f.challenger) for f in batch]
        try:
            results = self.backend.settle(finishes)
        except OSError as exc:  # nothing settled: every one goes back
            if not self.report_disk(exc):
                self.log.warning("settle failed ({}); handing back {} handoffs", exc,
                                 len(finishes))
            for finish in finishes:
                self._hand_back(finish.claim)
            return
        for settled in results:
            claim = settled.claim
            line = settled.line
            log = self.log.bind(handoff=claim.name)
            if settled.vanished:
                log.info("{!r} was no longer ours when it settled; dropped", claim.name)
                continue
            if settled.error is not None or line is None:
                error = OSError(settled.errno, settled.error) if settled.errno else \
                    OSError(str(settled.error))
                if self.report_disk(error):  # the root's condition: the watcher says it once
                    log.debug("settle failed ({}); handing {!r} back", error, claim.name)
                else:
                    log.warning("settle failed ({}); handing {!r} back", error, claim.name)
                self._hand_back(claim)
                continue
            log.bind(bundle=(line.bundle_sha256 or "")[:12]).info(
                "repaired {!r} with {}{}", claim.name, line.repair_strategy,
                " (duplicate)" if line.duplicate else "")

    def _hand_back(self, claim: Claim) -> None:
        """Back to the queue untouched; on a read-only root it stays claimed, and
        the watcher hands it back once the root can be written again."""
        try:
            self.backend.hand_back(claim)
        except OSError as exc:
            if not self.report_disk(exc):
                raise
