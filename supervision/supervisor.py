"""The supervisor: starts children in order, restarts dead ones, escalates."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import pykka
from loguru import logger

from repairlab.actors.base import has_ended, is_dead
from repairlab.messages.commands import Ping
from repairlab.supervision.child_spec import ChildSpec
from repairlab.supervision.restart_window import RestartWindow

POLL_SECONDS = 0.2  # how often every child's liveness is checked
ENDED_WAIT_SECONDS = 1.0  # after a stop: how long to wait on the spot for the thread to end


class ActorCrashed(msgspec.Struct, frozen=True, tag=True, kw_only=True):
    """A child died of an exception (reported by the child itself)."""

    name: str
    error: str
    urn: str = ""


class Escalate(Exception):
    """The restart intensity was exceeded: the whole process must stop."""


@dataclass
class _Dying:
    """A dead child whose old incarnation has not run to its end yet."""

    ref: pykka.ActorRef[Any]
    error: str
    since: float


class Supervisor:
    """One-for-one supervision of pykka actors, driven from one thread.

    It learns of a death two ways: a child reports its own crash
    (`notify_crash`, thread-safe), and every `POLL_SECONDS` it checks that each
    child is still alive, whatever stopped it. A dead child is restarted only
    once its old incarnation has run to its end: never two at once. One that does
    not end within `shutdown_seconds + abandon_seconds` of its death makes the
    supervisor give up (only a new process gets rid of a wedged thread).

    Before a restart, `on_down(name, error)` settles what the dead child held and
    says whether its death is blamed on a piece of work it held (a handoff that
    crashed a repairer): such a restart does not count toward the intensity,
    since that work is itself recorded as failed and ends quarantined. Every other
    restart counts; past `max_restarts` within `period_seconds` every child is
    stopped in reverse start order and `run_once` returns False.
    """

    def __init__(
        self,
        specs: list[ChildSpec],
        window: RestartWindow,
        *,
        on_started: Callable[[str, pykka.ActorRef[Any] | None], None] = lambda n, r: None,
        on_restarted: Callable[[str, int, str], None] = lambda n, c, e: None,
        on_down: Callable[[str, str], bool] = lambda n, e: False,
        abandon_seconds: float = 30.0,
    ) -> None:
        self.specs = list(specs)
        self.window = window
        self.on_started = on_started
        self.on_restarted = on_restarted
        self.on_down = on_down
        self.abandon_seconds = abandon_seconds
        self.refs: dict[str, pykka.ActorRef[Any]] = {}
        self.restarts: dict[str, int] = {}
        self.events: queue.Queue[ActorCrashed] = queue.Queue()  # crash reports
        self.failed = False
        self._stopping = threading.Event()
        self._dying: dict[str, _Dying] = {}
        self._last_poll = 0.0

    # -- children ---------------------------------------------------------------------

    def start(self) -> None:
        """Start every child in order. If one cannot even be created, stop those
        already started and raise Escalate. (An exception in a child's `on_start`
        runs on the child's thread: it is reported like any crash, and restarts
        within the intensity.)"""
        for spec in self.specs:
            try:
                self._start_child(spec, fresh=True)
            except Exception as exc:
                self.stop()
                raise Escalate(f"{spec.name} failed to start: {exc}") from exc

    def _start_child(self, spec: ChildSpec, *, fresh: bool) -> None:
        ref = spec.factory(fresh)
        self.refs[spec.name] = ref
        self.on_started(spec.name, ref)

    def add(self, spec: ChildSpec) -> None:
        """Start and supervise one more child (a reload adding workers)."""
        self.specs.append(spec)
        self._start_child(spec, fresh=True)

    def remove(self, name: str) -> None:
        """Stop one child for good and stop supervising it."""
        spec = self._spec(name)
        if spec is None:
            return
        self.specs.remove(spec)
        self._dying.pop(name, None)
        self._stop_child(spec)

    def notify_crash(self, name: str, error: BaseException, urn: str = "") -> None:
        """Called from the crashed actor's thread; `urn` names the incarnation."""
        if self._stopping.is_set():
            return
        self.events.put(ActorCrashed(name=name, error=f"{type(error).__name__}: {error}",
                                     urn=urn))

    # -- the loop ------------------------------------------------------------------------

    def run_once(self, timeout: float) -> bool:
        """Handle at most one crash report, waiting up to `timeout`, then check
        every child's liveness if it is time. Returns False once the supervisor
        has escalated (and stopped everything)."""
        if self.failed:
            return False
        wait = timeout if not self._dying else min(timeout, POLL_SECONDS)
        try:
            event = self.events.get(timeout=wait)
        except queue.Empty:
            event = None
        if event is not None:
            self.handle_crash(event)
        if not self.failed and (event is None
                                or time.monotonic() - self._last_poll >= POLL_SECONDS):
            self.poll()
        return not self.failed

    def poll(self) -> None:
        """Find every child that died without a word, and restart those whose old
        incarnation has ended. A death is acted on only once no crash report waits
        to be handled: a dead child's own report (with its error) was posted
        before it died, so it is handled first."""
        if self._stopping.is_set():
            return
        dead = [spec for spec in self.specs
                if spec.name not in self._dying and (ref := self.refs.get(spec.name)) is not None
                and is_dead(ref)]
        if not self.events.empty():
            return  # handled by the next calls; polled again then
        self._last_poll = time.monotonic()
        for spec in dead:
            if self.failed:
                return
            ref = self.refs.get(spec.name)
            if ref is not None and is_dead(ref):
                self.handle_crash(ActorCrashed(
                    name=spec.name, error="stopped without reporting a crash",
                    urn=ref.actor_urn))
        for name, dying in list(self._dying.items()):
            if self.failed:
                return
            owner = self._spec(name)
            if owner is None:
                self._dying.pop(name, None)
            elif has_ended(dying.ref):
                del self._dying[name]
                self._restart(owner, dying.error)
            elif time.monotonic() - dying.since > owner.shutdown_seconds + self.abandon_seconds:
                del self._dying[name]
                logger.bind(actor=name).error(
                    "{} is still running {:g}s after it died ({}); giving up: only a new "
                    "process gets rid of it", name, time.monotonic() - dying.since, dying.error)
                self.on_down(name, dying.error)
                self._escalate()

    def handle_crash(self, event: ActorCrashed) -> None:
        """A child died: once its old incarnation has ended, restart it per its
        spec, or escalate."""
        spec = self._spec(event.name)
        if spec is None or self._stopping.is_set() or spec.name in self._dying:
            return
        current = self.refs.get(spec.name)
        if current is None or (event.urn and current.actor_urn != event.urn):
            return  # a late report from an incarnation that was already replaced
        log = logger.bind(actor=event.name)
        self.on_started(spec.name, None)
        if spec.restart == "temporary":
            self.refs.pop(spec.name, None)
            log.error("temporary child {} crashed ({}); not restarted", spec.name, event.error)
            return
        if not has_ended(current):
            try:
                current.stop(block=True, timeout=spec.shutdown_seconds)
            except (pykka.ActorDeadError, pykka.Timeout):
                pass
            deadline = time.monotonic() + min(ENDED_WAIT_SECONDS, spec.shutdown_seconds)
            while not has_ended(current) and time.monotonic() < deadline:
                time.sleep(0.01)
            if not has_ended(current):
                log.error("{} crashed ({}) and has not stopped after {:g}s; it is restarted "
                          "once it has", spec.name, event.error, spec.shutdown_seconds)
                self._dying[spec.name] = _Dying(current, event.error, time.monotonic())
                return
        self._restart(spec, event.error)

    def _restart(self, spec: ChildSpec, error: str) -> None:
        log = logger.bind(actor=spec.name)
        blamed = self.on_down(spec.name, error)
        if not blamed and not self.window.allow():
            log.error(
                "{} crashed ({}); {} restarts within {:g}s exceed the intensity: giving up",
                spec.name, error, len(self.window) - 1, self.window.period_seconds)
            self._escalate()
            return
        count = self.restarts.get(spec.name, 0) + 1
        self.restarts[spec.name] = count
        for attempt in range(3):
            try:
                self._start_child(spec, fresh=False)
                break
            except Exception as exc:
                log.error("restart of {} failed: {}", spec.name, exc)
                if attempt == 2 or not self.window.allow():
                    self._escalate()
                    return
                time.sleep(0.1)
        log.warning("restarted {} after a crash ({}); restart #{}{}", spec.name, error, count,
                    " (blamed on the handoff it held)" if blamed else "")
        self.on_restarted(spec.name, count, error)

    def _escalate(self) -> None:
        self.failed = True
        self.stop()

    def _spec(self, name: str) -> ChildSpec | None:
        return next((s for s in self.specs if s.name == name), None)

    def healthy(self, timeout: float, skip: Callable[[str], bool] = lambda n: False) -> bool:
        """Every child (but those `skip` names) answers a Ping within `timeout`."""
        deadline = time.monotonic() + timeout
        futures = []
        for spec in self.specs:
            if skip(spec.name):
                continue
            ref = self.refs.get(spec.name)
            if ref is None:
                return False
            try:
                futures.append(ref.ask(Ping(), block=False))
            except pykka.ActorDeadError:
                return False
        for future in futures:
            try:
                if future.get(timeout=max(0.0, deadline - time.monotonic())) is not True:
                    return False
            except Exception:
                return False
        return True

    def stop(self) -> None:
        """Stop every child in reverse start order, each within its bound."""
        self._stopping.set()
        for spec in reversed(self.specs):
            self._stop_child(spec)

    def _stop_child(self, spec: ChildSpec) -> None:
        ref = self.refs.pop(spec.name, None)
        self.on_started(spec.name, None)
        if ref is None:
            return
        try:
            ref.stop(block=True, timeout=spec.shutdown_seconds)
        except pykka.ActorDeadError:
            pass
        except pykka.Timeout:
            logger.bind(actor=spec.name).warning(
                "{} did not stop within {:g}s; abandoning it", spec.name, spec.shutdown_seconds)
