"""The watcher: notices handoffs, claims them, and keeps the workers busy.

inotify (`state/queue_events.py`) tells it at once when a handoff is complete in
`queue/`; a full rescan every `watch.rescan_seconds` catches whatever inotify
dropped (it drops events silently when its queue overflows). It claims only as many handoffs
as it has free repairers, so that peer instances share the queue; a repairer is free as soon
as its test runs are over (`WorkerFree`), so the next claim overlaps its bookkeeping.

While repairs are short (the median of the last `AHEAD_SAMPLE` under
`AHEAD_BELOW_SECONDS`), it holds one claim more, a *spare* (`Runtime.spare`): the
next repairer to come free takes it itself, in its own thread (it would otherwise
wait for this actor's thread to wake and answer its `WorkerFree`, a millisecond
when that thread is in a claim's round trip), and the claim that replaces it is
made while the repairers work (a claim through PostgreSQL is a millisecond's
round trip, a few per cent of a short repair). A spare no repairer took within
`SPARE_WAIT_SECONDS` goes back to the queue (peers may take it), and none is
claimed again until a repairer comes free; so a spare waits at most about that
long, never a long repair's time.

A state root that cannot be written (full, over quota, read-only: `state.disk`)
pauses claiming for the whole daemon: whoever meets it hands back what it holds and
tells the watcher (`StateRootUnwritable`), and the watcher notices it itself from
`statvfs` on its tick. It says so once, probes the root every `PROBE_SECONDS`
with a small write, and when one succeeds hands back whatever claim of its own
no repairer holds, rescans and claims again, saying that once too.

Every move is the backend's (`state/backend.py`): the watcher tells it what it
heard (`noticed`, `rescan`), asks it for the next claim (`claim_next`, due
deferrals first), renews the lease (`renew`), takes back lapsed peers' claims
(`recover_stale`) and hands back claims nobody works on (`hand_back`). Claims
travel as the backend's refs; the watcher never looks at a file itself.
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from typing import Any

from repairlab.actors.base import Runtime, SupervisedActor
from repairlab.messages.commands import (
    ActorRestarted,
    Dispatched,
    GetStatus,
    QueueChanged,
    RecordMetric,
    RepairBundle,
    Rescan,
    Settled,
    SetWorkers,
    StateRootUnwritable,
    StopClaiming,
    StoreChanged,
    Tick,
    WatcherStatus,
    WorkerFree,
)
from repairlab.messages.records import MetricLine
from repairlab.state.backend import BackendUnavailable, Claim
from repairlab.state.disk import describe, disk_condition, looks_unwritable, probe

TICK_SECONDS = 0.5
PROBE_SECONDS = 1.0  # how often a paused watcher tries a write to the state root
AHEAD_SAMPLE = 8  # the repairs (dispatch to WorkerFree) whose median decides the spare
AHEAD_BELOW_SECONDS = 1.0  # a spare is held while that median is shorter than this
SPARE_WAIT_SECONDS = 1.0  # a spare no repairer took within this goes back to the queue


class Watcher(SupervisedActor):
    """Watches `queue/`, claims handoffs for idle repairers, heartbeats, and
    takes back the claims of dead peers (dead: their heartbeat unchanged for the
    lease by this instance's monotonic clock; `state/liveness.py`), then removes
    what they left behind.

    If the backend cannot watch (inotify's watch limit reached, odd
    filesystem), it logs a warning and relies on the rescans alone.

    `workers` is the repairer pool when it starts (later: `SetWorkers`). It
    writes each dispatch on the work board (`Runtime.report`) and reads the board
    (`Runtime.board`): a restarted watcher rebuilds what is in flight from it, and
    frees a worker whose `WorkerFree` went to the watcher before it once that
    worker's claim has left the board.
    """

    kind = "watcher"

    def __init__(self, runtime: Runtime, name: str, *, workers: tuple[str, ...] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(runtime, name, **kwargs)
        self._start_workers = runtime.workers if workers is None else workers

    def start_up(self) -> None:
        runtime = self.runtime
        self.backend = runtime.backend
        self.workers: list[str] = list(self._start_workers)
        self.pending = 0  # claimable as far as the last rescan knew
        # worker -> (claim, name, when it was dispatched: time.monotonic())
        self.inflight: dict[str, tuple[str, str, float]] = {}
        self.claiming = True
        self.scans = 0
        self.first_scan_done = False
        self.last_scan = self.last_beat = self.last_stale = 0.0
        self.unwatch: Any = None
        self.disk_problem: str | None = None  # claiming paused while the root is unwritable
        # Claiming paused while the store cannot be reached (the database is away):
        # what is held is kept; the first heartbeat that goes through resumes.
        self.store_away = False
        self.last_probe = 0.0
        # Claims in flight that a previous incarnation dispatched (`_free_inherited`).
        self.inherited: set[str] = set()
        # The spare claim is `runtime.spare` (see the module doc); how long
        # the last repairs took from dispatch to WorkerFree.
        self.spare_waited = False  # one went back unused: none until a repairer frees
        self.repairs: deque[float] = deque(maxlen=AHEAD_SAMPLE)
        try:
            if self.fresh:
                recovered = sum(1 for claim in self.backend.held()
                                if self.backend.hand_back(claim))
                if recovered:
                    self.log.info("took back {} handoffs this instance held before", recovered)
            else:
                self._rebuild_inflight()
            self.backend.renew()
        except OSError as exc:
            if not self._pause_for(exc):
                raise
        self.last_beat = time.monotonic()
        self._recover_stale()
        self._start_watching()
        self.scan()
        self.first_scan_done = True
        self.every(TICK_SECONDS)
        self.dispatch()

    def shut_down(self) -> None:
        unwatch = getattr(self, "unwatch", None)
        if unwatch is not None:
            self.unwatch = None
            unwatch()

    # -- inbox ---------------------------------------------------------------------

    def handle(self, message: Any) -> Any:
        match message:
            case QueueChanged(name=name):
                self.backend.noticed(name)
                self.dispatch()
            case Tick():
                self.tick()
            case Rescan():
                self.scan()
                self.dispatch()
            case StoreChanged():
                self.dispatch()
            case WorkerFree(worker=worker, name=name, took=took, took_name=took_name):
                current = self.inflight.get(worker)
                if current is not None and current[1] == name:
                    del self.inflight[worker]
                    self.repairs.append(time.monotonic() - current[2])
                    self.spare_waited = False
                if took is not None and took_name is not None:  # it took the spare
                    self.inflight[worker] = (took, took_name, time.monotonic())
                self.dispatch()
            case ActorRestarted(actor=actor, released=released):
                try:
                    self._take_back(actor, released)
                except OSError as exc:  # kept claimed: handed back once the store is back
                    if not self._pause_for(exc):
                        raise
                self.dispatch()
            case StopClaiming():
                self.claiming = False
                self._drop_spare()
            case StateRootUnwritable(problem=problem, error=error, actor=actor):
                if self.disk_problem is None:
                    self._check_disk(f"{problem}: {error} (seen by {actor})")
            case SetWorkers(workers=workers):
                self.workers = list(workers)
                spare = self._take_spare()  # offered again, to the workers there are now
                if spare is not None:
                    self.runtime.spare.offer(spare, self.workers)
                self.dispatch()
            case GetStatus():
                return WatcherStatus(pending=self.pending, in_flight=len(self.inflight),
                                     claiming=self.claiming and self.disk_problem is None
                                     and not self.store_away,
                                     scans=self.scans, first_scan_done=self.first_scan_done,
                                     disk_problem=self.disk_problem)
            case _:
                raise TypeError(f"watcher cannot handle {type(message).__name__}")
        return None

    # -- work ------------------------------------------------------------------------

    def tick(self) -> None:
        """Periodic duties: heartbeat, rescan, stale peers, then claims (due
        deferrals among them: the backend looks for those)."""
        config = self.config
        now = time.monotonic()
        if self.disk_problem is not None:
            if now - self.last_probe >= PROBE_SECONDS:
                self._check_disk()
        elif looks_unwritable(self.runtime.layout.root):
            self._check_disk()
        if now - self.last_beat >= config.watch.heartbeat_seconds:
            try:
                self.backend.renew()
                self.last_beat = now
            except OSError as exc:
                if not self._pause_for(exc):
                    self.log.warning("heartbeat not written: {}", exc)
            else:
                if self.store_away:
                    self._store_back()
        if now - self.last_scan >= config.watch.rescan_seconds:
            self.scan()
        if self.inherited:
            self._free_inherited()
        offered = self.runtime.spare.since()
        if offered is not None and now - offered >= SPARE_WAIT_SECONDS:
            # The repairs are long now, or claiming paused: none until a repairer frees.
            self.spare_waited = True
            self._drop_spare()
        if self.disk_problem is not None or self.store_away:
            return  # nothing can move; a probe (or heartbeat) that succeeds resumes
        if now - self.last_stale >= max(1.0, config.instance.lease_seconds / 3):
            self._recover_stale()
        self.dispatch()

    def scan(self) -> None:
        """The backend looks at the whole queue (events can be lost)."""
        try:
            self.pending = self.backend.rescan()
        except BackendUnavailable as exc:  # the connector has said so, once
            self.log.debug("cannot scan the queue: {}", exc)
            self._pause_for(exc)
            return
        except OSError as exc:
            self.log.warning("cannot scan the queue: {}", exc)
            return
        self.scans += 1
        self.last_scan = time.monotonic()

    def dispatch(self) -> None:
        """Claim handoffs for every idle repairer (none while the root cannot be
        written: a claim could not be written up)."""
        if not self.claiming or self.disk_problem is not None or self.store_away:
            return
        idle = [w for w in self.workers if w not in self.inflight]
        while idle:
            claimed = self._take_spare() or self._claim_next()
            if claimed is None:
                return
            worker = idle.pop(0)
            ref, name = claimed.ref, claimed.name
            self.report(Dispatched(worker=worker, claim=ref, name=name))
            self.inflight[worker] = (ref, name, time.monotonic())
            if not self.runtime.peers.tell(worker, RepairBundle(claim=ref, name=name)):
                self.report(Settled(worker=worker, claim=ref))
                del self.inflight[worker]
                try:
                    self.backend.hand_back(claimed)
                except OSError as exc:
                    if not self._pause_for(exc):
                        raise
                return
        if self.runtime.spare.since() is None and self._claims_ahead():
            claimed = self._claim_next()
            if claimed is not None:
                self.runtime.spare.offer(claimed, self.workers)

    def _free_inherited(self) -> None:
        """A worker holding a claim dispatched by this watcher's previous
        incarnation is free once that claim has left the work board: its
        `WorkerFree` may have gone to the watcher that died."""
        board = self.runtime.board()
        for claim in self.inherited - set(board):
            self.inherited.discard(claim)
            for worker, (held, _, _) in list(self.inflight.items()):
                if held == claim:
                    del self.inflight[worker]

    def _claim_next(self) -> Claim | None:
        """The backend's next claim; None when there is none, or when the store
        cannot be written or reached (then claiming pauses, see `_pause_for`)."""
        try:
            return self.backend.claim_next()
        except OSError as exc:
            if self._pause_for(exc):
                return None
            raise

    # -- the spare claim (see the module doc) -------------------------------------------

    def _claims_ahead(self) -> bool:
        """Whether to hold a spare: the last repairs were short, and no spare
        went back unused since a repairer last came free."""
        return (not self.spare_waited and len(self.repairs) >= AHEAD_SAMPLE // 2
                and statistics.median(self.repairs) < AHEAD_BELOW_SECONDS)

    def _take_spare(self) -> Claim | None:
        return self.runtime.spare.take()

    def _drop_spare(self) -> None:
        """The spare back to the queue. On a store that cannot take it back now
        it stays claimed and unassigned: `_hand_back_stranded` returns it when
        the store is back, as any claim of ours that no repairer holds."""
        claim = self._take_spare()
        if claim is None:
            return
        try:
            self.backend.hand_back(claim)
        except OSError as exc:
            if not self._pause_for(exc):
                raise

    def _take_back(self, actor: str, released: tuple[str, ...]) -> None:
        """`actor` was restarted: the handoffs it held and the supervisor did not
        settle (`released`: one it was given and had not begun) go back to the
        queue, with the one dispatched to it last (lost with its mailbox). For
        telemetry, that is every claim no repairer holds (finishes lost with its
        mailbox; the work board says what the repairers hold)."""
        if actor == "telemetry":
            self._requeue_unheld()
            return
        held = list(released)
        current = self.inflight.pop(actor, None)
        if current is not None and current[0] not in held:
            held.append(current[0])
            self.report(Settled(worker=actor, claim=current[0]))
        ours = {claim.ref: claim for claim in self.backend.held()} if held else {}
        for ref in held:
            claim = ours.get(ref)
            if claim is None:
                continue  # gone already: it reached its next place
            try:
                back = self.backend.hand_back(claim)
            except OSError as exc:  # stays claimed; handed back when the root is writable
                if not self._pause_for(exc):
                    raise
                continue
            if back:
                self.log.info("handed {!r} back to the queue after {} restarted", claim.name,
                              actor)

    def _rebuild_inflight(self) -> None:
        """After a restart of this actor: what the repairers hold is in flight
        (for each, the claim given last); any other claim of ours was dispatched
        to nobody and goes back."""
        board = self.runtime.board()
        jobs = sorted(board.items(), key=lambda item: item[1].since)
        self.inflight = {job.worker: (claim, job.name, job.since) for claim, job in jobs}
        self.inherited = set(board)
        self._requeue_unheld()

    def _requeue_unheld(self) -> None:
        """Hand back every claim of ours that no repairer is working on (the work
        board and what this watcher dispatched). (A claim telemetry is finishing
        right now may go too: its move to done/ then finds it gone, and the redo
        ends as a duplicate of the challenger just written.) The spare goes back
        with the others: it is taken out of reach of the repairers first, and the
        board read after that (a repairer that took it first has written it there)."""
        self._take_spare()
        busy = {claim for claim, _, _ in self.inflight.values()} | set(self.runtime.board())
        for claim in self.backend.held():
            if claim.ref in busy or self.backend.settling(claim):
                continue  # telemetry is settling it (or will, after its restart)
            self.backend.hand_back(claim)

    # -- an unwritable state root ------------------------------------------------------

    def _pause_for(self, exc: BaseException) -> bool:
        """If `exc` says the root is full or read-only, pause (once) and return
        True; if it says the store cannot be reached (`BackendUnavailable`),
        stop claiming until a heartbeat goes through again (`_store_back`) and
        return True; any other error: False."""
        if isinstance(exc, BackendUnavailable):
            if not self.store_away:
                self.store_away = True
                self.log.info("store unreachable: claiming paused, holding {} in flight",
                              len(self.inflight))
            return True
        problem = disk_condition(exc)
        if problem is None:
            return False
        if self.disk_problem is None:
            self._check_disk(f"{problem}: {exc}")
        return True

    def _check_disk(self, seen: str | None = None) -> None:
        """Probe the root; pause or resume claiming by what the probe finds,
        logging each change once. On resuming (or when the probe shows the
        trouble already gone) every claim of ours that no worker holds goes back
        to the queue: it could not move when it was handed back."""
        self.last_probe = time.monotonic()
        root = self.runtime.layout.root
        error = probe(root, self.runtime.instance)
        problem = disk_condition(error) if error is not None else None
        if error is not None and problem is None:
            problem = "unwritable"  # another error (EIO, EACCES): pause all the same
        if problem is not None:
            if self.disk_problem is None:
                self.disk_problem = problem
                self.log.warning("state root {} is {}; claiming paused until it can be "
                                 "written again", root, describe(problem, error))
            return
        if self.disk_problem is None:
            if seen is not None:  # gone by the time of the probe: a moment's shortage
                self.log.info("state root write failed ({}) but a probe write succeeds", seen)
                self._hand_back_stranded()
            return
        self.log.info("state root {} can be written again (it was {}); claiming resumed",
                      root, self.disk_problem)
        self.disk_problem = None
        self._hand_back_stranded()
        if self.disk_problem is None:
            self.scan()
            self.dispatch()

    def _store_back(self) -> None:
        """The store answers again: claims of ours that no worker holds (their
        results could not be recorded while it was away) go back to be redone,
        then claiming resumes."""
        self.store_away = False
        self.log.info("store reachable again: claiming resumed")
        self._hand_back_stranded()
        if not self.store_away:
            self._recover_stale()
            self.scan()
            self.dispatch()

    def _hand_back_stranded(self) -> None:
        try:
            self._requeue_unheld()
        except OSError as exc:
            self._pause_for(exc)

    def _recover_stale(self) -> None:
        self.last_stale = time.monotonic()
        try:
            recovered = self.backend.recover_stale(self._record_metric)
        except OSError as exc:
            if not self._pause_for(exc):
                self.log.warning("cannot recover stale claims: {}", exc)
            return
        if recovered:
            self.log.info("took back {} handoffs from instances past their lease", recovered)

    def _record_metric(self, line: MetricLine) -> None:
        self.runtime.peers.tell("telemetry", RecordMetric(line=line))

    def _start_watching(self) -> None:
        ref = self.actor_ref

        def wake(name: str | None) -> None:
            ref.tell(StoreChanged() if name is None else QueueChanged(name=name))

        try:
            self.unwatch = self.backend.watch(wake, lambda: ref.tell(Rescan()))
        except OSError as exc:
            self.log.warning("inotify unavailable ({}); relying on rescans", exc)
            self.unwatch = None
