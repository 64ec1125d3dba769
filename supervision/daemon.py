"""One repairlab daemon: the actors, their supervisor, and an orderly stop."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

import pykka
from loguru import logger

from repairlab import faults
from repairlab.actors.base import Runtime, SupervisedActor
from repairlab.actors.failure_window import FailureWindow
from repairlab.actors.pruner import Pruner
from repairlab.actors.quarantine import Quarantine
from repairlab.actors.repairer import Repairer
from repairlab.actors.telemetry import Telemetry
from repairlab.actors.watcher import Watcher
from repairlab.config import config_digest
from repairlab.config.schema import Config
from repairlab.messages.commands import (
    ActorRestarted,
    GetStatus,
    Reconfigure,
    RecordMetric,
    SetWorkers,
    StopClaiming,
    WatcherStatus,
)
from repairlab.messages.records import MetricLine, rfc3339
from repairlab.repair.isolation import enforce, guards_of
from repairlab.state.backend import BackendUnavailable, Claim, open_backend
from repairlab.state.disk import disk_condition
from repairlab.state.layout import Layout
from repairlab.supervision.child_spec import ChildSpec
from repairlab.supervision.poison import settle_crashed
from repairlab.supervision.restart_window import RestartWindow
from repairlab.supervision.supervisor import Escalate, Supervisor
from repairlab.supervision.work_board import Job, WorkBoard

VERSION = "0.1.0"
MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # glibc's mallopt() parameter number


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas for this process (as `MALLOC_ARENA_MAX` would).

    glibc gives a thread that meets contention an arena of its own, up to 8 per
    CPU, and an arena keeps the high-water mark of whatever its threads freed. With
    a dozen actor threads the daemon's RSS crept up for tens of thousands of events
    as arenas were added (bench/memory.py: +4.7 MB from 20,000 to 100,000 events;
    capped at 2: flat). The actors do little allocation outside the GIL, so two
    arenas cost nothing in contention. An environment variable set by the operator
    wins. False (and nothing done) where this is not glibc.
    """
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_ARENA_MAX, arenas))


class Daemon:
    """The supervised actors of one instance over one state root.

    `start()` raises Escalate when an actor cannot start. `run(stop)` returns
    the exit status: 0 after an orderly stop, 1 when the supervisor gave up.
    """

    def __init__(self, config: Config, *, extra_actors: dict[str, type[SupervisedActor]]
                 | None = None) -> None:
        limit_malloc_arenas()  # before the actor threads exist
        self.config = config
        self.layout = Layout.from_config(config)
        self.layout.ensure()
        faults.configure(dict(config.faults.points), config.faults.seed)
        workers = tuple(f"repairer-{i}" for i in range(config.repair.workers))
        self.workers = workers
        self.digest = config_digest(config)
        # Written by the actors as they go (see supervision/work_board.py).
        self.board = WorkBoard()
        self._released: dict[str, tuple[str, ...]] = {}
        self.runtime = Runtime(config=config, layout=self.layout, instance=config.instance.id,
                               workers=workers, version=VERSION, config_digest=self.digest)
        classes: list[tuple[str, type[SupervisedActor]]] = [
            ("telemetry", Telemetry),
            ("failure_window", FailureWindow),
            ("quarantine", Quarantine),
            *[(w, Repairer) for w in workers],
            ("pruner", Pruner),
        ]
        for name, cls in (extra_actors or {}).items():
            classes = [(n, cls if n == name else c) for n, c in classes]
        classes.append(("watcher", (extra_actors or {}).get("watcher", Watcher)))
        specs = [self._spec(name, cls) for name, cls in classes]
        self.supervisor = Supervisor(
            specs,
            RestartWindow(config.supervisor.max_restarts, config.supervisor.period_seconds),
            on_started=self.runtime.peers.set,
            on_restarted=self._restarted,
            on_down=self._down,
        )
        self.runtime.on_crash = self.supervisor.notify_crash
        self.runtime.report = self.board.apply
        self.runtime.board = self.board.snapshot
        self.started = False
        self._retiring: list[str] = []  # workers dropped by a reload, stopped once idle

    def _spec(self, name: str, cls: type[SupervisedActor]) -> ChildSpec:
        """Each (re)start gets what is current then through the constructor: the
        config and its digest, and for the watcher the workers."""

        def factory(fresh: bool) -> pykka.ActorRef[Any]:
            extra: dict[str, Any] = {}
            if name == "watcher":
                extra = {"workers": self.workers}
            return cls.start(self.runtime, name, config=self.config, digest=self.digest,
                             fresh=fresh, **extra)

        return ChildSpec(name=name, factory=factory, restart="permanent")

    # -- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Probe the candidates' isolation and apply `[sandbox] require` (raises
        SandboxRefused with one line when it is required and falls short), open the
        backend (raises Escalate with its `check` line when it cannot run), then
        start every actor (watcher last, after its first scan)."""
        self.runtime.stopping.clear()
        guards = guards_of([*self.layout.directories(), self.layout.metrics.parent])
        isolation = enforce(self.config.sandbox.require, guards)
        self.isolation = isolation
        # Written before any actor thread exists, and never again.
        self.runtime.isolation = isolation.line()
        self.runtime.require_isolation = self.config.sandbox.require
        self.runtime.guards = tuple(guards)
        # The one backend of this process: every actor reaches the state through it.
        self.backend = open_backend(self.config, self.runtime.instance,
                                    isolation=self.runtime.isolation)
        refused = self.backend.check()
        if refused is not None:
            self.backend.close()
            raise Escalate(f"backend {self.backend.kind}: {refused}")
        self.runtime.backend = self.backend
        self.supervisor.start()
        self.started = True
        logger.bind(actor="daemon").info(
            "repairlab {} instance {} watching {} with {} workers", VERSION,
            self.runtime.instance, self.layout.queue, len(self.workers))

    def _down(self, name: str, error: str) -> bool:
        """`name` died; before it is restarted, take what it held off the board.
        Each handoff it had begun counts as a failure of its bundle, recorded
        now (`supervision/poison.py`); the rest goes back through the watcher
        (`ActorRestarted.released`). True when the death is blamed on a handoff."""
        if name not in self.workers and name not in self._retiring:
            return False
        blamed = False
        released = []
        for claim, job in self.board.take(name).items():
            if job.begun:
                try:
                    place = self._settle_crashed(Claim(ref=claim, name=job.name), job, error)
                except Exception as exc:  # not recorded: back to the queue as it is
                    logger.bind(actor="daemon", handoff=job.name).warning(
                        "crash of {} not recorded against {!r}: {}", name, job.name, exc)
                else:
                    if place is not None:
                        blamed = True
                        logger.bind(actor="daemon", handoff=job.name).warning(
                            "{!r} crashed {} ({}): failure recorded, {}", job.name, name,
                            error, "quarantined" if place == "hard_fail" else "deferred")
                    continue
            released.append(claim)
        self._released[name] = tuple(released)
        return blamed

    def _settle_crashed(self, claim: Claim, job: Job, error: str) -> str | None:
        """`settle_crashed`, tried again twice when the disk refuses for a moment."""
        backend = self.runtime.backend
        for delay in (0.1, 0.3):
            try:
                return settle_crashed(backend, self.runtime.instance, self.config, claim,
                                      job, error)
            except OSError as exc:
                logger.bind(actor="daemon", handoff=job.name).info(
                    "crash record for {!r} not written ({}); retrying", job.name, exc)
                time.sleep(delay)
        return settle_crashed(backend, self.runtime.instance, self.config, claim, job, error)

    def _restarted(self, name: str, count: int, error: str) -> None:
        line = MetricLine(ts=rfc3339(time.time()), event="actor_restarted",
                          instance=self.runtime.instance, meta_repair=False, actor=name,
                          reason=error[:500])
        self.runtime.peers.tell("telemetry", RecordMetric(line=line))
        if name != "watcher":
            self.runtime.peers.tell("watcher", ActorRestarted(
                actor=name, attempt=count, released=self._released.pop(name, ())))

    def run(self, stop: threading.Event, *, tick: Callable[[], None] | None = None,
            grace_seconds: float | None = None,
            on_stopping: Callable[[], None] | None = None) -> int:
        """Supervise until `stop` is set (then stop in order, exit 0) or the
        supervisor gives up (exit 1)."""
        while not stop.is_set():
            if not self.supervisor.run_once(0.1):
                logger.bind(actor="daemon").error("supervisor gave up; exiting non-zero")
                if on_stopping is not None:
                    on_stopping()
                self._give_back()
                return 1
            self._retire_idle_workers()
            if tick is not None:
                tick()
        if on_stopping is not None:
            on_stopping()
        self.shutdown(grace_seconds)
        return 0

    # -- health and reload ---------------------------------------------------------------

    def healthy(self, timeout: float = 2.0) -> bool:
        """Every idle actor answers a Ping within `timeout`, and no repair has
        run far past its budget (a busy repairer cannot answer, so its age on
        the work board stands in for its answer)."""
        repair = self.config.repair
        limit = repair.bundle_timeout_seconds + repair.test_timeout_seconds + 60
        jobs = self.board.snapshot().values()
        now = time.monotonic()
        if any(now - job.since > limit for job in jobs):
            return False
        busy = {job.worker for job in jobs}
        return self.supervisor.healthy(timeout, skip=lambda name: name in busy)

    def reload(self, new: Config) -> str:
        """Apply a new configuration without a restart and without losing work.

        Windows, thresholds, backoff, TTL, schedule, timeouts and strategies take
        effect for the next piece of work; `repair.workers` grows or shrinks the
        pool (a busy worker retires when its repair ends). Raises ConfigError when
        the new config changes what only a restart can (root, paths, instance id,
        `[sandbox]`: the isolation is probed and enforced at start).
        """
        from repairlab.errors import ConfigError

        old = self.config
        if new.paths != old.paths:
            raise ConfigError("config: [paths] cannot change on reload; restart instead")
        if new.instance.id != old.instance.id:
            raise ConfigError("config: [instance] id cannot change on reload; restart instead")
        if new.sandbox != old.sandbox:
            raise ConfigError("config: [sandbox] cannot change on reload; restart instead")
        # Runs on the supervisor's thread: a restart after this starts with `new`;
        # the running actors get it as a message.
        self.config = new
        self.digest = config_digest(new)
        self.runtime.backend.configure(new)
        for name in self.runtime.peers.names():
            self.runtime.peers.tell(name, Reconfigure(config=new, digest=self.digest))
        self.supervisor.window.max_restarts = new.supervisor.max_restarts
        self.supervisor.window.period_seconds = new.supervisor.period_seconds
        faults.configure(dict(new.faults.points), new.faults.seed)
        wanted = tuple(f"repairer-{i}" for i in range(new.repair.workers))
        for name in wanted:
            if name not in self.workers:
                self.supervisor.add(self._spec(name, Repairer))
        self._retiring = [w for w in self.workers if w not in wanted]
        self.workers = wanted
        self.runtime.peers.tell("watcher", SetWorkers(workers=wanted))
        self._retire_idle_workers()
        return f"reloaded: {len(wanted)} workers, window {new.failure_window.window_seconds:g}s"

    def _retire_idle_workers(self) -> None:
        if not self._retiring:
            return
        busy = self.board.busy()
        for name in [w for w in self._retiring if w not in busy]:
            self.supervisor.remove(name)
            self._retiring.remove(name)

    def shutdown(self, grace_seconds: float | None = None) -> None:
        """Stop claiming, let in-flight repairs finish within the grace period,
        stop every actor, and hand back whatever is still held."""
        grace = self.config.repair.bundle_timeout_seconds if grace_seconds is None \
            else grace_seconds
        self.runtime.stopping.set()  # a repairer hands back a handoff it has not begun
        self.runtime.peers.tell("watcher", StopClaiming())
        deadline = time.monotonic() + grace
        # The board empties as the repairers settle; meanwhile this thread still
        # handles what the supervisor hears (a crash settles what the worker held).
        while self.board.snapshot() and time.monotonic() < deadline:
            if not self.supervisor.run_once(0.05):
                break
        if self.board.snapshot():
            logger.bind(actor="daemon").warning(
                "{} repairs still running after {:g}s; handing them back",
                len(self.board.snapshot()), grace)
        self.supervisor.stop()
        self._give_back()
        self.runtime.backend.close()
        self.started = False

    def _give_back(self) -> None:
        """Hand back every claim still held and remove the heartbeat. On a root
        that cannot be written (read-only) they stay, said once: this instance's
        next start takes its claims back, and a peer does after the lease."""
        log = logger.bind(actor="daemon")
        backend = self.runtime.backend
        try:
            returned = backend.hand_back_all()
        except OSError as exc:
            problem = "unreachable" if isinstance(exc, BackendUnavailable) \
                else disk_condition(exc)
            if problem is None:
                raise
            try:
                held = len(backend.held())
            except OSError:
                held = 0
            log.warning("{} is {}: {} handoffs stay claimed until this instance "
                        "starts again or a peer's lease runs out",
                        "the database" if problem == "unreachable" else "state root", problem,
                        held)
            return
        if returned:
            log.info("handed {} claims back to the queue", returned)

    # -- questions -------------------------------------------------------------------------

    def watcher_status(self, timeout: float = 2.0) -> WatcherStatus | None:
        """The watcher's counters, or None if it does not answer in time."""
        try:
            status: WatcherStatus = self.runtime.peers.ask("watcher", GetStatus(), timeout)
        except Exception:
            return None
        return status

    def idle(self) -> bool:
        """Nothing waits, nothing is deferred, nothing is claimed by anyone."""
        if self.board.snapshot():
            return False
        return self.runtime.backend.idle()


__all__ = ["VERSION", "Daemon", "Escalate"]
