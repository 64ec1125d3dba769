"""The watcher: notices handoffs, claims them, and keeps the workers busy.

inotify (`state/queue_events.py`) tells it at once when a handoff is complete in
`queue/`; a full rescan every `watch.rescan_seconds` catches whatever inotify
dropped (it drops events silently when its queue overflows). It claims only as many handoffs
as it has free repairers, so that peer instances share the queue; a repairer is free as soon
as its test runs are over (`WorkerFree`), so the next claim overlaps its bookkeeping.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from actors.base import Runtime, SupervisedActor
from messages.commands import (
    ActorRestarted,
    Dispatched,
    GetStatus,
    QueueChanged,
    RecordMetric,
    RepairBundle,
    Rescan,
    Settled,
    SetWorkers,
    StopClaiming,
    Tick,
    WatcherStatus,
    WorkerFree,
)
from messages.records import MetricLine
from state.claims import Claims, is_handoff_name
from state.queue_events import QueueNotifier
from supervision.work_board import Job

TICK_SECONDS = 0.5


class Watcher(SupervisedActor):
    """Watches `queue/`, claims handoffs for idle repairers, heartbeats, and
    takes back the claims of dead peers (dead: their heartbeat unchanged for the
    lease by this instance's monotonic clock; `state/liveness.py`), then removes
    what they left behind.

    If inotify cannot be set up (watch limit reached, odd filesystem), it logs a
    warning and relies on the rescans alone.

    `workers` is the repairer pool when it starts (later: `SetWorkers`); `board`
    the supervisor's work board then (claim path -> job), from which a restarted
    watcher rebuilds what is in flight. It posts each dispatch to the board and
    hears of each settled claim from it (`Settled`).
    """

    kind = "watcher"

    def __init__(self, runtime: Runtime, name: str, *, workers: tuple[str, ...] | None = None,
                 board: dict[str, Job] | None = None, **kwargs: Any) -> None:
        super().__init__(runtime, name, **kwargs)
        self._start_workers = runtime.workers if workers is None else workers
        self._start_board = dict(board or {})

    def start_up(self) -> None:
        runtime = self.runtime
        self.claims = Claims(runtime.layout, runtime.instance, isolation=runtime.isolation)
        self.queue = runtime.layout.queue
        self.workers: list[str] = list(self._start_workers)
        self.pending: dict[str, None] = {}
        self.due: list[str] = []
        self.inflight: dict[str, tuple[str, str]] = {}
        self.claiming = True
        self.scans = 0
        self.first_scan_done = False
        self.last_scan = self.last_beat = self.last_stale = 0.0
        self.observer: Any = None
        if self.fresh:
            recovered = self.claims.recover_own()
            if recovered:
                self.log.info("took back {} handoffs this instance held before", recovered)
        else:
            self._rebuild_inflight()
        self.claims.heartbeat()
        self.last_beat = time.monotonic()
        self._recover_stale()
        self._start_observer()
        self.scan()
        self.first_scan_done = True
        self.every(TICK_SECONDS)
        self.dispatch()

    def shut_down(self) -> None:
        observer = getattr(self, "observer", None)
        if observer is not None:
            observer.stop()
            self.observer = None

    # -- inbox ---------------------------------------------------------------------

    def handle(self, message: Any) -> Any:
        match message:
            case QueueChanged(name=name):
                self.pending[name] = None
                self.dispatch()
            case Tick():
                self.tick()
            case Rescan():
                self.scan()
                self.dispatch()
            case WorkerFree(worker=worker, name=name):
                current = self.inflight.get(worker)
                if current is not None and current[1] == name:
                    del self.inflight[worker]
                self.dispatch()
            case Settled(worker=worker, claim=claim):
                # Settled, even if its WorkerFree went to a watcher since restarted.
                current = self.inflight.get(worker)
                if current is not None and current[0] == claim:
                    del self.inflight[worker]
                self.dispatch()
            case ActorRestarted(actor=actor, released=released, board=board):
                self._take_back(actor, released, board)
                self.dispatch()
            case StopClaiming():
                self.claiming = False
            case SetWorkers(workers=workers):
                self.workers = list(workers)
                self.dispatch()
            case GetStatus():
                return WatcherStatus(pending=len(self.pending), in_flight=len(self.inflight),
                                     claiming=self.claiming, scans=self.scans,
                                     first_scan_done=self.first_scan_done)
            case _:
                raise TypeError(f"watcher cannot handle {type(message).__name__}")
        return None

    # -- work ------------------------------------------------------------------------

    def tick(self) -> None:
        """Periodic duties: heartbeat, rescan, due deferrals, stale peers."""
        config = self.config
        now = time.monotonic()
        if now - self.last_beat >= config.watch.heartbeat_seconds:
            try:
                self.claims.heartbeat()
                self.last_beat = now
            except OSError as exc:
                self.log.warning("heartbeat not written: {}", exc)
        if now - self.last_scan >= config.watch.rescan_seconds:
            self.scan()
        if now - self.last_stale >= max(1.0, config.instance.lease_seconds / 3):
            self._recover_stale()
        self.due = list(self.claims.claim_due(horizon=config.backoff.max_seconds))
        self.dispatch()

    def scan(self) -> None:
        """Add every handoff name in `queue/` to the pending set (name order)."""
        try:
            with os.scandir(self.queue) as it:
                names = sorted(e.name for e in it if is_handoff_name(e.name))
        except OSError as exc:
            self.log.warning("cannot scan {}: {}", self.queue, exc)
            return
        fresh = {name: None for name in names}
        # Keep the event order for names we knew; forget names that are gone.
        self.pending = {n: None for n in self.pending if n in fresh} | fresh
        self.scans += 1
        self.last_scan = time.monotonic()

    def dispatch(self) -> None:
        """Claim handoffs for every idle repairer."""
        if not self.claiming:
            return
        idle = [w for w in self.workers if w not in self.inflight]
        while idle:
            claimed = self._claim_next()
            if claimed is None:
                return
            worker = idle.pop(0)
            path, name = claimed
            self.report(Dispatched(worker=worker, claim=str(path), name=name))
            self.inflight[worker] = (str(path), name)
            if not self.runtime.peers.tell(worker, RepairBundle(claim=str(path), name=name)):
                self.report(Settled(worker=worker, claim=str(path)))
                del self.inflight[worker]
                self.claims.requeue(path)
                return

    def _claim_next(self) -> tuple[Path, str] | None:
        while self.due:
            name = self.due.pop(0)
            path = self.claims.claim(name, source=self.runtime.layout.deferred)
            if path is not None:
                return path, name
        while self.pending:
            name = next(iter(self.pending))
            del self.pending[name]
            path = self.claims.claim(name)
            if path is not None:
                return path, name
        return None

    def _take_back(self, actor: str, released: tuple[str, ...], board: tuple[str, ...]) -> None:
        """`actor` was restarted: the handoffs it held and the supervisor did not
        settle (`released`: one it was given and had not begun) go back to the
        queue, with the one dispatched to it last (lost with its mailbox). For
        telemetry, that is every claim no repairer holds (finishes lost with its
        mailbox; `board`: what the repairers hold)."""
        if actor == "telemetry":
            self._requeue_unheld(set(board))
            return
        held = list(released)
        current = self.inflight.pop(actor, None)
        if current is not None and current[0] not in held:
            held.append(current[0])
            self.report(Settled(worker=actor, claim=current[0]))
        for claim in held:
            back = self.claims.requeue(Path(claim)) if os.path.lexists(claim) else None
            if back is not None:
                self.pending[back.name] = None
                self.log.info("handed {!r} back to the queue after {} restarted", back.name,
                              actor)

    def _rebuild_inflight(self) -> None:
        """After a restart of this actor: what the repairers hold is in flight
        (for each, the claim given last); any other claim of ours was dispatched
        to nobody and goes back."""
        jobs = sorted(self._start_board.items(), key=lambda item: item[1].since)
        self.inflight = {job.worker: (claim, job.name) for claim, job in jobs}
        self._requeue_unheld(set(self._start_board))

    def _requeue_unheld(self, board: set[str]) -> None:
        """Hand back every claim of ours that no repairer is working on (`board`
        and what this watcher dispatched). (A claim telemetry is finishing right
        now may go too: its move to done/ then finds it gone, and the redo ends as
        a duplicate of the challenger just written.)"""
        busy = {claim for claim, _ in self.inflight.values()} | board
        for path in self.claims.held():
            if str(path) in busy or self.claims.settling(path):
                continue  # telemetry is settling it (or will, after its restart)
            if self.claims.requeue(path) is not None:
                self.pending[path.name] = None

    def _recover_stale(self) -> None:
        self.last_stale = time.monotonic()
        try:
            recovered = self.claims.recover_stale(self.config.instance.lease_seconds,
                                                  self._record_metric)
        except OSError as exc:
            self.log.warning("cannot recover stale claims: {}", exc)
            return
        if recovered:
            self.log.info("took back {} handoffs from instances past their lease", recovered)

    def _record_metric(self, line: MetricLine) -> None:
        self.runtime.peers.tell("telemetry", RecordMetric(line=line))

    def _start_observer(self) -> None:
        ref = self.actor_ref
        try:
            observer = QueueNotifier(self.queue, lambda name: ref.tell(QueueChanged(name=name)),
                                     lambda: ref.tell(Rescan()))
            observer.start()
            self.observer = observer
        except OSError as exc:
            self.log.warning("inotify unavailable ({}); relying on rescans", exc)
            self.observer = None
