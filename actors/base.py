"""What every repairlab actor shares: the runtime, peer lookup, timers, and the
crash reporting that pykka lacks.

pykka stops an actor whose `on_receive` raised on a `tell`, and logs an exception
raised in `on_start` without calling `on_failure`. `SupervisedActor` reports both
to the supervisor, which restarts the actor by its child spec.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, TypeVar

import pykka
from loguru import logger

from config.schema import Config
from errors import RepairlabError
from faults import inject
from messages.commands import Msg, Ping, Tick
from state.layout import Layout

RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0)  # `SupervisedActor.retrying`: then the last try
T = TypeVar("T")


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


class Job(NamedTuple):
    """A claimed handoff given to a repairer."""

    worker: str
    name: str
    since: float  # time.monotonic() of the dispatch


class WorkBoard:
    """Which claimed handoffs the repairers hold, and since when.

    The watcher writes an entry when it dispatches, the repairer clears it when
    the handoff has reached its next place (or leaves it when it crashes, for the
    watcher to hand back). A repairer holds at most two: the one whose bookkeeping
    it is finishing and the next one, given to it meanwhile (see `WorkerFree`).
    It is a cache of `claims/<instance>/`: a restarted watcher rebuilds its
    in-flight table from it, and the health check and shutdown read it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}  # by claim path

    def assign(self, worker: str, claim: Path | str, name: str) -> None:
        with self._lock:
            self._jobs[str(claim)] = Job(worker, name, time.monotonic())

    def clear(self, worker: str, claim: Path | str | None = None) -> None:
        """Forget `claim` if `worker` holds it; with no claim, all that `worker` holds."""
        with self._lock:
            if claim is None:
                for key in [k for k, job in self._jobs.items() if job.worker == worker]:
                    del self._jobs[key]
            elif (job := self._jobs.get(str(claim))) is not None and job.worker == worker:
                del self._jobs[str(claim)]

    def snapshot(self) -> dict[str, Job]:
        """Every held claim (its path) and its job."""
        with self._lock:
            return dict(self._jobs)

    def busy(self) -> set[str]:
        """The workers that hold a claim."""
        with self._lock:
            return {job.worker for job in self._jobs.values()}


@dataclass
class Runtime:
    """Everything the actors of one daemon share. `config` may be replaced by a
    reload; actors read it afresh for each piece of work."""

    config: Config
    layout: Layout
    instance: str
    peers: Peers = field(default_factory=Peers)
    work: WorkBoard = field(default_factory=WorkBoard)
    on_crash: Callable[[str, BaseException, str], None] = lambda name, exc, urn: None
    fresh_start: bool = True
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


class SupervisedActor(pykka.ThreadingActor):
    """A pykka actor that reports its own crash to the supervisor.

    Subclasses implement `handle(message)` (and optionally `start_up`,
    `shut_down`). `kind` names the actor for logs and fault injection: every
    message passes the injection point `actor.<kind>`.
    """

    kind = "actor"
    use_daemon_thread = True  # a wedged actor must not keep the process alive

    def __init__(self, runtime: Runtime, name: str) -> None:
        super().__init__()
        self.runtime = runtime
        self.name = name
        self.log = logger.bind(actor=name)
        self._clock = _Clock(self.actor_ref, name)
        self._point = f"actor.{self.kind}"
        self._crash_reported = False

    # pykka hooks -----------------------------------------------------------------

    def on_start(self) -> None:
        try:
            inject(f"{self._point}.start")
            self.start_up()
        except Exception as exc:
            self._stop_timers()
            self.runtime.on_crash(self.name, exc, self.actor_urn)
            raise

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
        try:
            inject(self._point)
            return self.handle(message)
        except (OSError, RepairlabError):
            raise  # an expected condition: the asker handles it; the actor lives on
        except Exception as exc:
            # A bug, whether the message was told or asked: the supervisor restarts
            # this actor. (pykka itself would keep an asked actor running.)
            self.log.opt(exception=exc).error("{} crashed: {}", self.name, exc)
            self._crash_reported = True
            self.runtime.on_crash(self.name, exc, self.actor_urn)
            raise

    # for subclasses -------------------------------------------------------------

    def start_up(self) -> None:
        """Prepare; an exception here is a crash (reported, then restarted)."""

    def shut_down(self) -> None:
        """Release resources; called on stop and after a crash. Must not raise."""

    def handle(self, message: Any) -> Any:
        """Handle one message of this actor's inbox."""
        raise NotImplementedError

    def retrying(self, step: Callable[[], T], what: str, *,
                 retry_on: tuple[type[BaseException], ...] = (OSError,),
                 give_up_on: tuple[type[BaseException], ...] = (),
                 log: Any = None) -> T:
        """`step()`, tried again after each of `RETRY_DELAYS` (a few seconds in
        all) while it raises one of `retry_on` and none of `give_up_on`; the last
        error propagates. For writes that fail for a moment (ENOSPC, EIO) and
        peers that are restarting."""
        for delay in RETRY_DELAYS:
            try:
                return step()
            except give_up_on:
                raise
            except retry_on as exc:
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
