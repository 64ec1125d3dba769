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

from actors.base import SupervisedActor
from messages.commands import (
    ActorRestarted,
    GetStatus,
    QueueChanged,
    RepairBundle,
    Rescan,
    SetWorkers,
    StopClaiming,
    Tick,
    WatcherStatus,
    WorkerFree,
)
from state.claims import Claims, is_handoff_name
from state.queue_events import QueueNotifier

TICK_SECONDS = 0.5


class Watcher(SupervisedActor):
    """Watches `queue/`, claims handoffs for idle repairers, heartbeats, and
    takes back the claims of dead peers.

    If inotify cannot be set up (watch limit reached, odd filesystem), it logs a
    warning and relies on the rescans alone.
    """

    kind = "watcher"

    def start_up(self) -> None:
        runtime = self.runtime
        self.claims = Claims(runtime.layout, runtime.instance, isolation=runtime.isolation)
        self.queue = runtime.layout.queue
        self.workers: list[str] = list(runtime.workers)
        self.pending: dict[str, None] = {}
        self.due: list[str] = []
        self.inflight: dict[str, tuple[str, str]] = {}
        self.claiming = True
        self.scans = 0
        self.first_scan_done = False
        self.last_scan = self.last_beat = self.last_stale = 0.0
        self.observer: Any = None
        if runtime.fresh_start:
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
            case ActorRestarted(actor=actor):
                self._take_back(actor)
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
        config = self.runtime.config
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
        self.due = list(self.claims.claim_due())
        self._reconcile()
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
            self.runtime.work.assign(worker, path, name)
            self.inflight[worker] = (str(path), name)
            if not self.runtime.peers.tell(worker, RepairBundle(claim=str(path), name=name)):
                self.runtime.work.clear(worker, path)
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

    def _take_back(self, actor: str) -> None:
        """`actor` was restarted: the handoffs it held go back to the queue (the
        one it was given last, lost with its mailbox, and one whose bookkeeping
        it crashed in). For telemetry, that is every claim no repairer holds
        (finishes lost with its mailbox)."""
        if actor == "telemetry":
            self._requeue_unheld()
            return
        held = {claim: job.name for claim, job in self.runtime.work.snapshot().items()
                if job.worker == actor}
        current = self.inflight.pop(actor, None)
        if current is not None:
            held[current[0]] = current[1]
        self.runtime.work.clear(actor)
        for claim, name in held.items():
            if os.path.lexists(claim) and self.claims.requeue(Path(claim)) is not None:
                self.pending[name] = None
                self.log.info("handed {!r} back to the queue after {} restarted", name, actor)

    def _reconcile(self) -> None:
        """A worker whose in-flight claim is off the work board has settled it,
        even if its `WorkerFree` went to a watcher that has since restarted."""
        board = self.runtime.work.snapshot()
        for worker, (claim, _) in list(self.inflight.items()):
            if claim not in board:
                del self.inflight[worker]

    def _rebuild_inflight(self) -> None:
        """After a restart of this actor: what the repairers hold is in flight
        (for each, the claim given last); any other claim of ours was dispatched
        to nobody and goes back."""
        jobs = sorted(self.runtime.work.snapshot().items(), key=lambda item: item[1].since)
        self.inflight = {job.worker: (claim, job.name) for claim, job in jobs}
        self._requeue_unheld()

    def _requeue_unheld(self) -> None:
        """Hand back every claim of ours that no repairer is working on. (A claim
        telemetry is finishing right now may go too: its move to done/ then finds
        it gone, and the redo ends as a duplicate of the challenger just written.)"""
        busy = {claim for claim, _ in self.inflight.values()}
        busy.update(self.runtime.work.snapshot())
        for path in self.claims.held():
            if str(path) not in busy and self.claims.requeue(path) is not None:
                self.pending[path.name] = None

    def _recover_stale(self) -> None:
        self.last_stale = time.monotonic()
        try:
            recovered = self.claims.recover_stale(self.runtime.config.instance.lease_seconds)
        except OSError as exc:
            self.log.warning("cannot recover stale claims: {}", exc)
            return
        if recovered:
            self.log.info("took back {} handoffs from instances past their lease", recovered)

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
