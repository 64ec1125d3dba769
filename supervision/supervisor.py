"""The supervisor: starts children in order, restarts crashed ones, escalates."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import msgspec
import pykka
from loguru import logger

from messages.commands import Ping
from supervision.child_spec import ChildSpec
from supervision.restart_window import RestartWindow


class ActorCrashed(msgspec.Struct, frozen=True, tag=True, kw_only=True):
    """A child died of an exception (reported by the child itself)."""

    name: str
    error: str
    urn: str = ""


class Escalate(Exception):
    """The restart intensity was exceeded: the whole process must stop."""


class Supervisor:
    """One-for-one supervision of pykka actors, driven from one thread.

    Children report their own crash through `notify_crash` (thread-safe). The
    owning thread calls `run_once`/`run` to restart them. When restarts exceed
    the intensity, every child is stopped in reverse start order and `run`
    returns 1 (the process must exit non-zero).
    """

    def __init__(
        self,
        specs: list[ChildSpec],
        window: RestartWindow,
        *,
        on_started: Callable[[str, pykka.ActorRef[Any] | None], None] = lambda n, r: None,
        on_restarted: Callable[[str, int, str], None] = lambda n, c, e: None,
    ) -> None:
        self.specs = list(specs)
        self.window = window
        self.on_started = on_started
        self.on_restarted = on_restarted
        self.refs: dict[str, pykka.ActorRef[Any]] = {}
        self.restarts: dict[str, int] = {}
        self.events: queue.Queue[ActorCrashed] = queue.Queue()
        self.failed = False
        self._stopping = threading.Event()

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
        spec = next((s for s in self.specs if s.name == name), None)
        if spec is None:
            return
        self.specs.remove(spec)
        self._stop_child(spec)

    def notify_crash(self, name: str, error: BaseException, urn: str = "") -> None:
        """Called from the crashed actor's thread; `urn` names the incarnation."""
        if self._stopping.is_set():
            return
        self.events.put(ActorCrashed(name=name, error=f"{type(error).__name__}: {error}",
                                     urn=urn))

    # -- the loop ------------------------------------------------------------------------

    def run_once(self, timeout: float) -> bool:
        """Handle at most one crash report, waiting up to `timeout`. Returns
        False once the supervisor has escalated (and stopped everything)."""
        if self.failed:
            return False
        try:
            event = self.events.get(timeout=timeout)
        except queue.Empty:
            return True
        self.handle_crash(event)
        return not self.failed

    def handle_crash(self, event: ActorCrashed) -> None:
        """Restart the crashed child per its spec, or escalate."""
        spec = next((s for s in self.specs if s.name == event.name), None)
        if spec is None or self._stopping.is_set():
            return
        current = self.refs.get(spec.name)
        if event.urn and current is not None and current.actor_urn != event.urn:
            return  # a late report from an incarnation that was already replaced
        log = logger.bind(actor=event.name)
        self.on_started(spec.name, None)
        if spec.restart == "temporary":
            log.error("temporary child {} crashed ({}); not restarted", spec.name, event.error)
            return
        if not self.window.allow():
            log.error(
                "{} crashed ({}); {} restarts within {:g}s exceed the intensity: giving up",
                spec.name, event.error, len(self.window) - 1, self.window.period_seconds)
            self.failed = True
            self.stop()
            return
        count = self.restarts.get(spec.name, 0) + 1
        self.restarts[spec.name] = count
        old = self.refs.get(spec.name)
        if old is not None:
            try:
                old.stop(block=True, timeout=spec.shutdown_seconds)
            except (pykka.ActorDeadError, pykka.Timeout):
                pass
        for attempt in range(3):
            try:
                self._start_child(spec, fresh=False)
                break
            except Exception as exc:
                log.error("restart of {} failed: {}", spec.name, exc)
                if attempt == 2 or not self.window.allow():
                    self.failed = True
                    self.stop()
                    return
                time.sleep(0.1)
        log.warning("restarted {} after a crash ({}); restart #{}", spec.name, event.error, count)
        self.on_restarted(spec.name, count, event.error)

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
