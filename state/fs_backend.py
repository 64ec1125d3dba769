"""The filesystem backend: every transition of `state/backend.py` as renames
under one state root on one host's local filesystem (SPEC §1-§5).

What each transition is on disk (the modules underneath keep their own docs):

- intake: inotify on `queue/` (`state/queue_events.py`) and rescans fill a
  set of pending names; `claim_next` renames the next one into
  `claims/<instance>/` (`state/claims.py`: of several instances, one wins),
  due deferrals first (`deferred/`, oldest not-before first, read at most every
  `DUE_SECONDS`);
- liveness: the heartbeat `instances/<id>.json`, peers judged by watching it
  change on this host's monotonic clock (`state/liveness.py`);
- settle: challengers staged, published and fsynced once for the batch
  (`state/challengers.py`, a group commit), a settle note, the move to
  `processed/done/`, the `repaired` line (`state/settle.py`, `state/metrics.py`);
- fail: a failure record per attempt key (`state/failures.py`), the window
  judged from every instance's records, then `deferred/` (mtime = not before)
  or `processed/hard_fail/` with its reason file (`state/dead_letters.py`);
- mark_corrupt: `processed/corrupt/` with its reason file.

The fence is the claim's path: a transition first finds the claim in this
instance's claims directory and moves it from there; one that lapsed and was
taken back by a peer finds nothing and raises `Vanished` (or settles as
`vanished`) before it writes anything.

Events a transition records itself go through `_emit`: on a full or read-only
root the line is kept in memory (at most `UNSENT_MAX`, oldest dropped first)
and written ahead of the next event and at each `renew`; only a stop before the
root takes writes again loses them (logged by `hand_back_all`).

The operator's reads (status, quarantine, prune, lineage, challengers, events)
are `FilesystemReads` (`state/fs_reads.py`).
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
from loguru import logger

from repairlab.faults import inject
from repairlab.messages.records import MetricLine, ReasonFile, rfc3339
from repairlab.state.backend import (
    Backend,
    ChallengerRef,
    Claim,
    Corrupt,
    Failure,
    Finish,
    Opened,
    PatternStore,
    Settled,
    Vanished,
    Wake,
)
from repairlab.state.challengers import ChallengerStore, Staged
from repairlab.state.claims import Claims, is_handoff_name
from repairlab.state.clock import StateClock
from repairlab.state.dead_letters import place_with_reason
from repairlab.state.disk import disk_condition
from repairlab.state.failures import FailureStore, judge
from repairlab.state.fs_reads import FilesystemReads
from repairlab.state.fsops import fsync_dir, move_unique, read_regular_file, write_temp
from repairlab.state.layout import Layout
from repairlab.state.metrics import MetricsLog
from repairlab.state.queue_events import QueueNotifier
from repairlab.state.settle import SettleNotes, finish_settling

if TYPE_CHECKING:
    from repairlab.config.schema import Config
    from repairlab.messages.commands import FailureVerdict
    from repairlab.messages.records import Challenger

DUE_SECONDS = 0.5  # how often `claim_next` looks into deferred/ for waits that are over
RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0)  # a write that fails for a moment (EIO): then the last try
UNSENT_MAX = 10_000  # event lines kept while the state root is full (oldest dropped)
CORRUPT_RULE = "the handoff is not valid repairlab.handoff/1 input"
T = TypeVar("T")

log = logger.bind(actor="backend")


class FilesystemBackend(FilesystemReads, Backend):
    """The transitions of one instance over the state root of `config` (or
    `layout`, when given: tests and tools that hold one already).

    Safe to use from several actor threads: the claims and the pending names are
    guarded by a lock, everything else is a rename, a link or an `O_APPEND`
    write, each atomic by itself. Nothing is created on disk until the first
    transition needs it (a read-only root can still be opened)."""

    kind = "filesystem"

    def __init__(self, config: Config, instance: str, *, isolation: str = "",
                 layout: Layout | None = None) -> None:
        self.config = config
        self.instance = instance
        self.isolation = isolation
        self.layout = layout if layout is not None else Layout.from_config(config)
        self.store = ChallengerStore(self.layout.challengers)
        self.failures = FailureStore(self.layout.failures)
        self.clock = StateClock(self.layout.instances)
        self.metrics = MetricsLog(self.layout.metrics, instance)
        self.notes = SettleNotes(self.layout, instance)
        self._claims: Claims | None = None
        self._lock = threading.RLock()
        self._pending: dict[str, None] = {}  # queue names, in the order we heard of them
        self._due: list[str] = []
        self._due_read = float("-inf")
        self._events = threading.Lock()
        self._unsent: deque[MetricLine] = deque(maxlen=UNSENT_MAX)

    @property
    def claims(self) -> Claims:
        """This instance's claims (made on first use: it creates the claims directory)."""
        with self._lock:
            if self._claims is None:
                self._claims = Claims(self.layout, self.instance, isolation=self.isolation,
                                      clock=self.clock)
            return self._claims

    # -- life -----------------------------------------------------------------------

    def configure(self, config: Config) -> None:
        self.config = config

    def check(self) -> str | None:
        root = self.layout.root
        if not root.is_dir():
            return f"state root {root} is not a directory"
        return None

    def watch(self, wake: Wake, overflow: Callable[[], None]) -> Callable[[], None]:
        """inotify on `queue/`. Raises OSError when it cannot be set up (watch
        limit reached, odd filesystem): the caller relies on rescans alone."""
        notifier = QueueNotifier(self.layout.queue, wake, overflow)
        notifier.start()
        return notifier.stop

    def close(self) -> None:
        """Nothing is held open (every metrics line opens the file afresh)."""
        self.metrics.close()

    # -- intake and claims --------------------------------------------------------------

    def noticed(self, name: str) -> None:
        if is_handoff_name(name):
            with self._lock:
                self._pending[name] = None

    def rescan(self) -> int:
        """Every handoff name in `queue/` becomes pending (name order after those
        already known; names that are gone are forgotten). OSError propagates
        (the queue cannot be read: the pending names stay as they were)."""
        with os.scandir(self.layout.queue) as it:
            names = sorted(e.name for e in it if is_handoff_name(e.name))
        fresh = dict.fromkeys(names)
        with self._lock:
            self._pending = {n: None for n in self._pending if n in fresh} | fresh
            return len(self._pending) + len(self._due)

    def pending(self) -> int:
        """How many names this instance knows to be waiting (for the watcher's status)."""
        with self._lock:
            return len(self._pending)

    def submit(self, name: str, data: bytes) -> str:
        """Written under a temporary name beside `queue/`, then renamed in under
        `name` or the first free unique variant of it."""
        tmp = self.layout.queue / f".submit-{uuid.uuid4().hex}.tmp"
        write_temp(tmp, data, point="submit.write")
        try:
            placed = move_unique(tmp, self.layout.queue, name)
        finally:
            tmp.unlink(missing_ok=True)
        fsync_dir(self.layout.queue)
        return placed.name

    def claim_next(self) -> Claim | None:
        """A due deferral first, else the next pending name. OSError (a full or
        read-only root) propagates; the name tried is forgotten until the next
        rescan."""
        with self._lock:
            now = time.monotonic()
            if now - self._due_read >= DUE_SECONDS:
                self._due_read = now
                self._due = list(self.claims.claim_due(horizon=self.config.backoff.max_seconds))
            while self._due:
                name = self._due.pop(0)
                path = self.claims.claim(name, source=self.layout.deferred)
                if path is not None:
                    return Claim(ref=str(path), name=name)
            while self._pending:
                name = next(iter(self._pending))
                del self._pending[name]
                path = self.claims.claim(name)
                if path is not None:
                    return Claim(ref=str(path), name=name)
        return None

    def held(self) -> list[Claim]:
        return [Claim(ref=str(path), name=path.name) for path in self.claims.held()]

    def renew(self) -> None:
        """Rewrite the heartbeat (on a full disk: touch it), then write any event
        lines kept back. OSError of the heartbeat propagates."""
        self.claims.heartbeat()
        if self._unsent:
            try:
                with self._events:
                    self._write_unsent()
            except OSError:
                pass  # still refused: kept for the next try

    def recover_stale(self, record_event: Callable[[MetricLine], None]) -> int:
        return self.claims.recover_stale(self.config.instance.lease_seconds, record_event)

    def hand_back(self, claim: Claim) -> bool:
        """To `queue/` (or `deferred/`, when a deferral was cut short after its
        not-before was set), same inode and mtime: the same attempt key. Its
        settle note goes with it. OSError (read-only): it stays claimed."""
        back = self.claims.requeue(Path(claim.ref))
        self.notes.clear(claim.name)
        if back is None:
            return False
        if back.parent == self.layout.queue:
            self.noticed(back.name)
        return True

    def hand_back_all(self) -> int:
        count = self.claims.recover_own()
        self.claims.forget_heartbeat()
        if self._unsent:
            log.warning("{} metrics lines not written: the state root still cannot be written",
                        len(self._unsent))
        return count

    def idle(self) -> bool:
        layout = self.layout
        return not (_has_entries(layout.queue, is_handoff_name)
                    or _has_entries(layout.deferred)
                    or any(_has_entries(p) for p in _claim_dirs(layout)))

    def resume_settling(self) -> int:
        """Complete this instance's settle notes (`state/settle.py`): what they
        point at is made durable first, then each is rolled forward or found done."""
        if self.notes.pending():
            self.store.sync()
        return finish_settling(self.layout, self.instance, self.record_event)

    def settling(self, claim: Claim) -> bool:
        return self.notes.has(claim.name)

    # -- outcomes -----------------------------------------------------------------------

    def open(self, claim: Claim, max_bytes: int) -> Opened:
        """At most `max_bytes + 1` bytes (the caller tells a too-large file by
        that), read without following a symlink; the key is the file's inode and
        mtime (`state.claims.attempt_key`)."""
        try:
            data, st = read_regular_file(Path(claim.ref), max_bytes)
        except FileNotFoundError as exc:
            raise Vanished(claim.ref) from exc
        return Opened(data=data, key=f"{st.st_ino:x}-{st.st_mtime_ns:x}")

    def repaired_before(self, bundle_sha256: str) -> ChallengerRef | None:
        path = self.store.repaired_before(bundle_sha256)
        if path is None:
            return None
        try:
            strategy = self.store.load(path).repair_strategy
        except (OSError, msgspec.DecodeError):
            strategy = None
        return ChallengerRef(name=path.name, strategy=strategy)

    def settle(self, finishes: list[Finish]) -> list[Settled]:
        """Each challenger written and fsynced, all published, both directories
        fsynced once for the lot (a group commit); then per finish a settle note,
        the move to done/, its line, and the note goes. A finish whose challenger
        or move keeps failing (after `RETRY_DELAYS`; a full or read-only root at
        once) is answered with its `error`, still claimed; so is every finish
        that needed the fsync, should the fsync fail (public, not known durable:
        the redo finds this very challenger)."""
        results: dict[int, Settled] = {}
        published: list[tuple[int, Finish, MetricLine]] = []
        for i, finish in enumerate(finishes):
            claim = finish.claim
            if not os.path.lexists(claim.ref):  # fenced: no longer ours
                results[i] = Settled(claim=claim, line=None, vanished=True)
                continue
            line = finish.line
            if finish.challenger is not None:
                challenger = finish.challenger
                try:
                    path, written = _retrying(lambda c=challenger: self._write(c),  # type: ignore[misc]
                                              "challenger write")
                except OSError as exc:
                    results[i] = _failed(claim, exc)
                    continue
                line = msgspec.structs.replace(line, challenger=path.name, duplicate=not written)
            self._note(claim, line)
            published.append((i, finish, line))
        if any(f.challenger is not None and not line.duplicate for _, f, line in published):
            try:
                _retrying(self.store.sync, "challenger directory fsync")
            except OSError as exc:
                for i, finish, _ in published:
                    results[i] = _failed(finish.claim, exc)
                published = []
        for i, finish, line in published:
            results[i] = self._settle_one(finish.claim, line)
        return [results[i] for i in range(len(finishes))]

    def _write(self, challenger: Challenger) -> tuple[Path, bool]:
        staged = self.store.stage(challenger)
        return self.store.publish(staged) if isinstance(staged, Staged) else (staged, False)

    def _note(self, claim: Claim, line: MetricLine) -> None:
        """The settle note (`state/settle.py`): from here on a crash no longer
        loses the line. Without one (OSError), the handoff settles all the same."""
        try:
            self.notes.write(Path(claim.ref), line)
        except FileNotFoundError:
            pass  # handed back meanwhile: the move finds it gone too
        except OSError as exc:
            if disk_condition(exc) is None:
                log.bind(handoff=claim.name).warning(
                    "settle note not written ({}); settling without it", exc)

    def _settle_one(self, claim: Claim, line: MetricLine) -> Settled:
        try:
            move_unique(Path(claim.ref), self.layout.done, claim.name)
        except FileNotFoundError:
            self.notes.clear(claim.name)
            return Settled(claim=claim, line=None, vanished=True)
        except OSError as exc:
            return _failed(claim, exc)
        inject("telemetry.settle")
        self._emit(line)
        self.notes.clear(claim.name)
        return Settled(claim=claim, line=line)

    def fail(self, failure: Failure) -> FailureVerdict:
        """The record (durable, under its attempt key: a redo counts once), the
        window judged from every instance's records by the state root's clock,
        then `deferred/` or `processed/hard_fail/` with its reason file, then the
        events. OSError of the record: nothing decided, the claim stays."""
        claim = failure.claim
        path = Path(claim.ref)
        if not os.path.lexists(path):
            raise Vanished(claim.ref)
        now = self.clock.now()
        verdict = judge(self.failures, failure.bundle_sha256, failure.record, self.config, now)
        line = msgspec.structs.replace(failure.line, failures=len(verdict.failures))
        if verdict.quarantine:
            reason = ReasonFile(
                handoff=claim.name, rule=verdict.rule, bundle_sha256=failure.bundle_sha256,
                failures=list(verdict.failures), quarantined_at=rfc3339(time.time()),
                tool=failure.tool, lineage=failure.lineage,
                reason=verdict.failures[-1].reason if verdict.failures else None,
                instance=self.instance, last_test_output=failure.last_test_output[-20000:],
                last_attempt=failure.last_attempt,
            )
            try:
                place_with_reason(path, self.layout.hard_fail, claim.name, reason)
            except FileNotFoundError as exc:
                raise Vanished(claim.ref) from exc
            self._emit(line)
            self._emit(msgspec.structs.replace(line, event="quarantined"))
            return verdict
        if self.claims.defer(path, verdict.not_before) is None:
            raise Vanished(claim.ref)
        self._emit(line)
        return verdict

    def mark_corrupt(self, corrupt: Corrupt) -> str:
        claim = corrupt.claim
        reason = ReasonFile(
            handoff=claim.name, rule=CORRUPT_RULE, reason=f"{corrupt.reason}: {corrupt.message}",
            field=corrupt.field, instance=self.instance, corrupt_at=rfc3339(time.time()),
        )
        try:
            target = place_with_reason(Path(claim.ref), self.layout.corrupt, claim.name, reason)
        except FileNotFoundError as exc:
            raise Vanished(claim.ref) from exc
        self._emit(MetricLine(ts=rfc3339(time.time()), event="corrupt", instance=self.instance,
                              meta_repair=False, handoff=claim.name,
                              reason=corrupt.message[:500]))
        return target.name

    def record_event(self, line: MetricLine) -> None:
        """The lines kept back first, then `line`; OSError: `line` was not written."""
        with self._events:
            self._write_unsent()
            self.metrics.append(line)

    def _write_unsent(self) -> None:
        """Write the lines kept back, oldest first; a disk condition stops (and
        propagates), any other error drops that line (logged)."""
        while self._unsent:
            try:
                self.metrics.append(self._unsent[0])
            except OSError as exc:
                if disk_condition(exc) is not None:
                    raise
                log.warning("metrics line {} not written: {}", self._unsent[0].event, exc)
            self._unsent.popleft()

    def _emit(self, line: MetricLine) -> None:
        """The event of a transition that has happened: recorded, or kept for
        later on a full or read-only root, or (any other error) logged and lost."""
        try:
            self.record_event(line)
        except OSError as exc:
            if disk_condition(exc) is None:
                log.warning("metrics line {} not written: {}", line.event, exc)
                return
            with self._events:
                self._unsent.append(line)

    def pattern_library(self) -> PatternStore | None:
        """A library of the caller's own over `patterns/` (each repairer opens
        one, as it always has; they share the files). None when the engine has
        none; OSError propagates (a full root that cannot create it)."""
        try:
            from repairlab.repair.patterns import PatternLibrary
        except ImportError:
            return None
        library: PatternStore = PatternLibrary(self.layout.patterns)
        return library


def _failed(claim: Claim, exc: OSError) -> Settled:
    return Settled(claim=claim, line=None, error=str(exc), errno=exc.errno)


def _retrying(step: Callable[[], T], what: str) -> T:
    """`step()`, tried again after each of `RETRY_DELAYS` while it raises an
    OSError that is not the root's condition (full, read-only: at once)."""
    for delay in RETRY_DELAYS:
        try:
            return step()
        except OSError as exc:
            if disk_condition(exc) is not None:
                raise
            log.info("{} failed ({}); retrying in {:g}s", what, exc, delay)
            time.sleep(delay)
    return step()


def _has_entries(directory: Any, wanted: Callable[[str], bool] | None = None) -> bool:
    """Any entry not starting with `.` (and passing `wanted`) in `directory`."""
    try:
        with os.scandir(directory) as it:
            return any(not e.name.startswith(".") and (wanted is None or wanted(e.name))
                       for e in it)
    except FileNotFoundError:
        return False


def _claim_dirs(layout: Layout) -> list[str]:
    try:
        with os.scandir(layout.claims) as it:
            return [e.path for e in it if e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return []
