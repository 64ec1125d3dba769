"""What every repairlab actor shares: the runtime, peer lookup, timers, and the
crash reporting that pykka lacks.

pykka stops an actor whose `on_receive` raised on a `tell`, logs an exception
raised in `on_start` without calling `on_failure`, and on a BaseException that is
not an Exception stops every actor of the process without a word. `SupervisedActor`
reports each to the supervisor (a BaseException becomes `ActorDied`, a crash of
this actor alone), which restarts the actor by its child spec; `is_dead` and
`has_ended` let the supervisor see a death nobody reported, and wait for the old
incarnation's thread to end before it starts the next.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import pykka
from loguru import logger

from repairlab.config.schema import Config
from repairlab.errors import RepairlabError
from repairlab.faults import inject
from repairlab.messages.commands import Msg, Ping, Reconfigure, Settled, StateRootUnwritable, Tick
from repairlab.state.backend import Backend, BackendUnavailable, Claim, open_backend
from repairlab.state.disk import disk_condition
from repairlab.state.layout import Layout

if TYPE_CHECKING:
    from repairlab.supervision.work_board import Job

RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0)  # `SupervisedActor.retrying`: then the last try
T = TypeVar("T")


class SpareClaim:
    """The one claim the watcher holds ahead of its free repairers (the spare,
    `actors/watcher.py`): whichever repairer comes free first takes it, in its own
    thread, without a round trip through the watcher. Taking is atomic: the spare
    is a repairer's, or handed back by the watcher, never both."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: tuple[Claim, float, frozenset[str]] | None = None

    def offer(self, claim: Claim, takers: Iterable[str]) -> None:
        """Hold `claim` as the spare for the repairers named `takers` (the
        watcher's workers: one a reload retires takes none). The slot is empty:
        the watcher's invariant."""
        with self._lock:
            assert self._held is None, "a spare is held already"
            self._held = (claim, time.monotonic(), frozenset(takers))

    def take(self, by: str | None = None,
             then: Callable[[Claim], None] = lambda claim: None) -> Claim | None:
        """The spare, now the caller's; None if there is none, or if the repairer
        `by` is not among its takers (the watcher takes it as `by=None`).
        `then(claim)` runs before anyone else can look at the slot again: a
        repairer writes the claim on the work board there, so that whoever
        empties the slot and then reads the board (`Watcher._requeue_unheld`) sees
        it in one place or the other."""
        with self._lock:
            held = self._held
            if held is None or (by is not None and by not in held[2]):
                return None
            self._held = None
            then(held[0])
        return held[0]

    def since(self) -> float | None:
        """When the spare held now was offered (time.monotonic()); None if none is."""
        with self._lock:
            return None if self._held is None else self._held[1]


class Peers:
    """The current ActorRef of each named actor; the supervisor updates it on
    every (re)start, so a message always goes to the live incarnation."""

    def __init__(self) -> None:
        self._refs: dict[str, pykka.ActorRef[Any]] = {}
        self._lock = threading.Lock()

    def set(self, name: str, ref: pykka.ActorRef[Any] | None) -> None:
        """Record (or, with None, forget) the ref of `name`."""
        with self._lock:
            if ref is None:
                self._refs.pop(name, None)
            else:
                self._refs[name] = ref

    def get(self, name: str) -> pykka.ActorRef[Any] | None:
        """The live ref of `name`, or None while it is down."""
        with self._lock:
            return self._refs.get(name)

    def names(self) -> list[str]:
        """Every known actor name."""
        with self._lock:
            return list(self._refs)

    def tell(self, name: str, message: Msg) -> bool:
        """Send without waiting. False (and nothing else) if `name` is down."""
        ref = self.get(name)
        if ref is None:
            return False
        try:
            ref.tell(message)
            return True
        except pykka.ActorDeadError:
            return False

    def ask(self, name: str, message: Msg, timeout: float) -> Any:
        """Ask and wait at most `timeout` seconds in all, riding out a restart of
        the peer. Raises pykka.ActorDeadError if it stays down, TimeoutError if
        it does not answer, or whatever the peer's handler raised."""
        deadline = time.monotonic() + timeout
        while True:
            ref = self.get(name)
            left = deadline - time.monotonic()
            if ref is not None:
                try:
                    return ref.ask(message, timeout=max(0.01, left))
                except pykka.ActorDeadError:
                    pass
                except pykka.Timeout:
                    raise TimeoutError(f"{name} did not answer within {timeout:.1f}s") from None
            if time.monotonic() >= deadline:
                raise pykka.ActorDeadError(f"{name} is not running")
            time.sleep(0.02)


@dataclass
class Runtime:
    """What the actors of one daemon share, all of it fixed before the first actor
    starts: the state layout, the instance id, the peer registry (written by the
    supervisor's thread alone), the ways to reach the supervisor and the work board,
    and the stop flag.

    Nothing here changes once actors run. `config`, `workers` and
    `config_digest` are the values at start: what a reload changes reaches each
    actor as a `Reconfigure` message (or, for one started later, through its
    constructor), never by writing this object. Actors write what they hold on the
    work board (`report`, applied at once in the caller's thread) and read a copy
    of it (`board`); the supervisor takes a dead worker's jobs off it.
    """

    config: Config
    layout: Layout
    instance: str
    peers: Peers = field(default_factory=Peers)
    on_crash: Callable[[str, BaseException, str], None] = lambda name, exc, urn: None
    report: Callable[[Msg], object] = lambda message: None  # onto the work board
    board: Callable[[], dict[str, Job]] = lambda: {}  # a copy of the work board
    spare: SpareClaim = field(default_factory=SpareClaim)  # the watcher's claim ahead
    workers: tuple[str, ...] = ()
    stopping: threading.Event = field(default_factory=threading.Event)  # shutdown began
    version: str = "0.1.0"
    config_digest: str = ""
    # Set once by `Daemon.start` before any actor starts, never changed after: the
    # candidates' isolation in words, whether it is required, and the directories
    # a candidate must not be able to write (the runners' probe checks them).
    isolation: str = ""
    require_isolation: bool = True
    guards: tuple[str, ...] = ()
    # The one backend of this process (`state/backend.py`): every actor's way to
    # the state. Set by `Daemon.start` (`open_backend`) before any actor starts;
    # a Runtime made without one (tests of one actor) opens the one its config
    # names on first use (`layout` is the config's).
    _backend: Backend | None = field(default=None, repr=False)
    _backend_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def backend(self) -> Backend:
        """The backend every actor of this runtime uses."""
        with self._backend_lock:
            if self._backend is None:
                self._backend = open_backend(self.config, self.instance,
                                             isolation=self.isolation)
            return self._backend

    @backend.setter
    def backend(self, backend: Backend) -> None:
        with self._backend_lock:
            self._backend = backend


class ActorDied(RuntimeError):
    """A handler or `start_up` raised a BaseException that is not an Exception
    (SystemExit, KeyboardInterrupt, a custom one). Raised in its place, so that
    pykka stops this actor alone (a BaseException makes pykka stop every actor of
    the process, silently) and the supervisor hears of it."""


# The thread of each incarnation, by actor URN: an actor is over only when its
# thread has ended, which pykka's stopped flag (set before `on_stop` runs) does
# not tell. Weak: an ended thread drops out by itself.
_THREADS: weakref.WeakValueDictionary[str, threading.Thread] = weakref.WeakValueDictionary()


def is_dead(ref: pykka.ActorRef[Any]) -> bool:
    """The incarnation behind `ref` no longer serves messages, whatever stopped
    it: pykka's stopped flag is set, or its thread has ended (a BaseException
    that escaped pykka's loop leaves the flag unset)."""
    if not ref.is_alive():
        return True
    thread = _THREADS.get(ref.actor_urn)
    return thread is not None and not thread.is_alive()


def has_ended(ref: pykka.ActorRef[Any]) -> bool:
    """`ref` is dead and its thread has run to its end: no code of that
    incarnation runs any more (its `on_stop`/`on_failure` included)."""
    if ref.is_alive():
        thread = _THREADS.get(ref.actor_urn)
        return thread is not None and not thread.is_alive()
    thread = _THREADS.get(ref.actor_urn)
    return thread is None or not thread.is_alive()


class SupervisedActor(pykka.ThreadingActor):
    """A pykka actor that reports its own crash to the supervisor.

    Subclasses implement `handle(message)` (and optionally `start_up`,
    `shut_down`, `reconfigured`). `kind` names the actor for logs and fault
    injection: every message passes the injection point `actor.<kind>`.

    Its configuration is its own: `config` (the daemon's at the time it was
    started, else `runtime.config`), replaced by a `Reconfigure` message on a
    reload. `fresh` is False when the supervisor restarts it after a crash.
    """

    kind = "actor"
    use_daemon_thread = True  # a wedged actor must not keep the process alive

    def __init__(self, runtime: Runtime, name: str, *, config: Config | None = None,
                 digest: str | None = None, fresh: bool = True) -> None:
        super().__init__()
        self.runtime = runtime
        self.name = name
        self.config = runtime.config if config is None else config
        self.config_digest = runtime.config_digest if digest is None else digest
        self.fresh = fresh
        self.log = logger.bind(actor=name)
        self._clock = _Clock(self.actor_ref, name)
        self._point = f"actor.{self.kind}"
        self._crash_reported = False

    # pykka hooks -----------------------------------------------------------------

    def on_start(self) -> None:
        _THREADS[self.actor_urn] = threading.current_thread()
        try:
            inject(f"{self._point}.start")
            self.start_up()
        except BaseException as exc:
            self._stop_timers()
            self._crash_reported = True
            self.runtime.on_crash(self.name, exc, self.actor_urn)
            if isinstance(exc, Exception):
                raise
            raise ActorDied(f"{self.name} died of {type(exc).__name__}: {exc}") from exc

    def on_stop(self) -> None:
        self._stop_timers()
        self.shut_down()

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # A told message failed, so pykka stops this actor. A bug was reported by
        # on_receive already; an expected error (OSError) on a tell was not, and
        # a stopped actor must never go unnoticed.
        self._stop_timers()
        try:
            self.shut_down()
        finally:
            if not self._crash_reported:
                self._crash_reported = True
                self.runtime.on_crash(
                    self.name, exception_value or RuntimeError("unknown failure"),
                    self.actor_urn)

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Ping):
            return not self._crash_reported
        if self._crash_reported:
            # Crashed on an asked message and waiting to be replaced: serve nothing.
            raise RuntimeError(f"{self.name} crashed and is being restarted")
        if isinstance(message, Reconfigure):
            self.config = message.config
            self.config_digest = message.digest
            self.reconfigured()
            return None
        try:
            inject(self._point)
            return self.handle(message)
        except OSError as exc:
            self.report_disk(exc)  # a full or read-only root pauses claiming at once
            raise  # an expected condition: the asker handles it; the actor lives on
        except RepairlabError:
            raise
        except BaseException as exc:
            # A bug, whether the message was told or asked: the supervisor restarts
            # this actor. (pykka itself would keep an asked actor running, and would
            # stop every actor of the process on a BaseException: it gets an
            # ordinary exception in its place.)
            self.log.opt(exception=exc).error("{} crashed: {}: {}", self.name,
                                              type(exc).__name__, exc)
            self._crash_reported = True
            self.runtime.on_crash(self.name, exc, self.actor_urn)
            if isinstance(exc, Exception):
                raise
            raise ActorDied(f"{self.name} died of {type(exc).__name__}: {exc}") from exc

    # for subclasses -------------------------------------------------------------

    def start_up(self) -> None:
        """Prepare; an exception here is a crash (reported, then restarted)."""

    def shut_down(self) -> None:
        """Release resources; called on stop and after a crash. Must not raise."""

    def handle(self, message: Any) -> Any:
        """Handle one message of this actor's inbox."""
        raise NotImplementedError

    def report_disk(self, exc: BaseException) -> bool:
        """If `exc` says the state root is full, over quota or read-only, tell the
        watcher (which pauses claiming and probes until it can write again) and
        return True. The store unreachable (`BackendUnavailable`: the database is
        restarting or failing over) is the store's condition too, not the
        handoff's: True, nothing told (the connector says so once in the log, and
        the watcher finds it out by its own calls); the caller keeps what it holds.
        Any other error: False, nothing told."""
        if isinstance(exc, BackendUnavailable):
            return True
        problem = disk_condition(exc)
        if problem is None:
            return False
        self.runtime.peers.tell("watcher", StateRootUnwritable(
            problem=problem, error=str(exc), actor=self.name))
        return True

    def reconfigured(self) -> None:
        """`self.config` was just replaced by a reload; adjust what depends on it."""

    def report(self, message: Msg) -> None:
        """Write `message` on the work board (`supervision/work_board.py`)."""
        self.runtime.report(message)

    def settled(self, claim: Any) -> None:
        """The claim this worker held has reached its next place (or went back)."""
        self.report(Settled(worker=self.name, claim=str(claim)))

    def retrying(self, step: Callable[[], T], what: str, *,
                 retry_on: tuple[type[BaseException], ...] = (OSError,),
                 give_up_on: tuple[type[BaseException], ...] = (),
                 log: Any = None) -> T:
        """`step()`, tried again after each of `RETRY_DELAYS` (a few seconds in
        all) while it raises one of `retry_on` and none of `give_up_on`; the last
        error propagates. For writes that fail for a moment (EIO) and peers that
        are restarting. A full or read-only state root (`state.disk`) is not
        retried here: it is reported to the watcher, which waits it out for the
        whole daemon, and the error propagates at once."""
        for delay in RETRY_DELAYS:
            try:
                return step()
            except give_up_on:
                raise
            except retry_on as exc:
                if self.report_disk(exc):
                    raise
                (log or self.log).info("{} failed ({}); retrying in {:g}s", what, exc, delay)
                time.sleep(delay)
        return step()

    def every(self, seconds: float, make: Callable[[], Msg] = Tick) -> None:
        """Tell this actor `make()` every `seconds` until it stops."""
        self._clock.add(seconds, make, every=seconds)

    def later(self, seconds: float, message: Msg) -> None:
        """Tell this actor `message` once, after `seconds`, unless it stops first."""
        self._clock.add(seconds, lambda: message)

    def _stop_timers(self) -> None:
        self._clock.stop()


class _Clock:
    """The timers of one actor: a single thread (started with the first timer)
    that tells the actor each message when it is due, periodic or once. One
    thread for all, rather than one per timer: telemetry sets a timer for every
    batch, and a thread each time would cost a thread start (and stack) each."""

    def __init__(self, ref: pykka.ActorRef[Any], name: str) -> None:
        self._ref = ref
        self._name = name
        self._cond = threading.Condition()
        self._due: list[tuple[float, int, Callable[[], Msg], float | None]] = []
        self._seq = itertools.count()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def add(self, delay: float, make: Callable[[], Msg], every: float | None = None) -> None:
        with self._cond:
            if self._stopped:
                return
            heapq.heappush(self._due, (time.monotonic() + delay, next(self._seq), make, every))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"{self._name}-timer",
                                                daemon=True)
                self._thread.start()
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._due.clear()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    left = self._due[0][0] - time.monotonic() if self._due else None
                    if left is not None and left <= 0:
                        break
                    self._cond.wait(left)
                if self._stopped:
                    return
                due, _, make, every = heapq.heappop(self._due)
                if every is not None:  # the next one a period on, never in the past
                    again = max(due + every, time.monotonic())
                    heapq.heappush(self._due, (again, next(self._seq), make, every))
            try:
                self._ref.tell(make())
            except pykka.ActorDeadError:
                return
