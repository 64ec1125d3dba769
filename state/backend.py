"""The seam: every move of a handoff, behind one interface (SPEC §1-§5, §9).

A handoff's whole path from the queue to its result reads in the methods of
`Backend`, in this order:

    ingest ─▶ claim ─▶ open ─┬─▶ settle (challenger + done + event, or a duplicate)
              ▲   renew      ├─▶ fail (record + window + backoff → deferred, or → hard_fail)
              │              ├─▶ mark_corrupt (→ corrupt, with its reason)
              └──────────────┴─▶ hand_back (untouched, same attempt)
    hard_fail ─▶ release ─▶ queue          anything past its TTL ─▶ prune

Each transition is one method, and each method is one transaction on
PostgreSQL (`state/pg/`) and one sequence of renames on the filesystem
(`state/fs_backend.py`). The actors call these methods and never touch files or
SQL themselves; who calls which (one owner per transition):

| transition                          | method                     | called by              |
|-------------------------------------|----------------------------|------------------------|
| a handoff appears / rescan          | `noticed`, `rescan`        | watcher                |
| claim the next claimable handoff    | `claim_next`               | watcher                |
| renew this instance's leases        | `renew`                    | watcher (heartbeat)    |
| take back a lapsed peer's claims    | `recover_stale`            | watcher                |
| give back claims nobody works on    | `hand_back`                | watcher, daemon (stop) |
| is the whole store drained          | `idle`                     | daemon                 |
| read the claimed bytes              | `open`                     | repairer               |
| settle repaired / duplicate         | `settle`                   | telemetry              |
| finish settles cut short by a crash | `resume_settling`          | telemetry (start)      |
| record a failure, defer/quarantine  | `fail`                     | failure_window         |
| mark an invalid handoff corrupt     | `mark_corrupt`             | quarantine             |
| release from quarantine             | `release`, `release_all`   | operator (CLI, web)    |
| prune past the TTL                  | `prune`                    | pruner, operator       |
| an event that settles nothing       | `record_event`             | telemetry              |

A claim is named by an opaque `ref` string (a path on the filesystem; the row
and its claim token on PostgreSQL) that travels in the actors' messages
unchanged; only the backend that made it interprets it.

Failure behaviour common to both implementations:
- `OSError` (`BackendUnavailable` is one) from any method means nothing of that
  transition happened, or it happened whole; never half. The caller keeps what
  it holds and may retry or hand back. A full or read-only state root raises the
  `OSError` whose errno says so (ENOSPC, EDQUOT, EROFS: `state/disk.py`).
- `Vanished` (a `FileNotFoundError`): the claim is no longer this instance's
  (another instance took it back after our lease lapsed, an operator removed
  it). Nothing was changed; the caller drops the handoff without a word more
  than a log line. This is the fence: a late settle or failure from a lapsed
  lease never makes a second challenger or a doubled failure record.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from repairlab.messages.records import Challenger, FailureRecord, MetricLine, RepairAttempt

if TYPE_CHECKING:
    from repairlab.config.schema import Config
    from repairlab.messages.commands import FailureVerdict
    from repairlab.messages.reports import (
        LineageEntry,
        QuarantineDetail,
        QuarantineEntry,
        ReleaseResult,
        StatusReport,
    )
    from repairlab.state.prune import PruneReport


class Vanished(FileNotFoundError):
    """The claim is no longer ours (fenced off, taken back, or removed)."""


class BackendUnavailable(ConnectionError):
    """The store cannot be reached now (the database is down or failing over).
    Nothing happened; try again later. An `OSError`, so callers that retry on
    `OSError` retry on this too."""


class Claim(msgspec.Struct, frozen=True, kw_only=True):
    """One handoff held by this instance.

    `ref` is the backend's handle (opaque to everybody else), `name` the
    handoff's file name (what metrics lines and destinations are called)."""

    ref: str
    name: str


class Opened(msgspec.Struct, frozen=True, kw_only=True):
    """The bytes of a claimed handoff and the key of this attempt at it.

    `key` is the same for a redo of one attempt (after a crash or a hand-back)
    and new after each deferral, so a redo never counts a failure twice."""

    data: bytes
    key: str


class Finish(msgspec.Struct, frozen=True, kw_only=True):
    """A repair to settle: the handoff goes to done/ with its challenger and its
    `repaired` event, all or nothing.

    With `challenger` None the bundle was repaired before (`repaired_before`):
    the handoff goes to done/ and its event points at the existing challenger
    (`line.challenger`, `line.duplicate` true); no challenger is written."""

    claim: Claim
    line: MetricLine
    challenger: Challenger | None = None


class Settled(msgspec.Struct, frozen=True, kw_only=True):
    """What `settle` did with one `Finish`: `line` is the event as recorded
    (its `challenger` names the challenger, `duplicate` says whether an equal
    one existed). `vanished` true: the claim was no longer ours, nothing was
    recorded for it. `error` set (with its `errno`, if it had one): this finish
    could not be settled (its challenger could not be made durable, its move
    refused) while others of the batch were; it is still claimed by this
    instance and nothing of it is public: the caller hands it back."""

    claim: Claim
    line: MetricLine | None
    vanished: bool = False
    error: str | None = None
    errno: int | None = None


class Failure(msgspec.Struct, frozen=True, kw_only=True):
    """A failed attempt at a claimed handoff, with what a reason file needs
    should this failure fill the window.

    `line` is the `repair_failed` event without its `failures` count (the
    backend fills it in from the window it judged)."""

    claim: Claim
    bundle_sha256: str
    record: FailureRecord
    line: MetricLine
    tool: str | None = None
    lineage: str | None = None
    last_test_output: str = ""
    last_attempt: RepairAttempt | None = None


class Corrupt(msgspec.Struct, frozen=True, kw_only=True):
    """An invalid handoff: `reason` is the short cause (`json`, `schema`,
    `size`...), `message` the one line an operator reads, `field` the field at
    fault if one is."""

    claim: Claim
    reason: str
    message: str
    field: str | None = None


class ChallengerRef(msgspec.Struct, frozen=True, kw_only=True):
    """An existing challenger: its §3 file name and the strategy that made it."""

    name: str
    strategy: str | None


class EventCursor(msgspec.Struct, frozen=True, kw_only=True):
    """Where an incremental reader of events stopped (`Backend.events`).
    Opaque to callers; `position` is a byte offset in a metrics file (with the
    file's identity in `source`) or an event id."""

    source: str = ""
    position: int = 0


class PatternStore(Protocol):
    """What the repair engine needs of a pattern library (`repair.patterns`)."""

    def candidates(self, bundle: Any, name: str, signature: Any, tool: str, limit: int,
                   *, kind: str = "function") -> list[Any]: ...

    def learn(self, bundle: Any, *, source_sha256: str,
              now: float | None = None) -> list[Any]: ...

    def close(self) -> None: ...


Wake = Callable[[str | None], None]  # a name that appeared in queue/; None: the store changed


class Backend(abc.ABC):
    """The transitions of a handoff, for one instance (`instance`), and the
    reads that the operator's commands and the web window make.

    Implementations are used from several actor threads at once; every method
    is safe to call concurrently (the filesystem's by renames, PostgreSQL's by
    transactions on a pool)."""

    kind: str  # "filesystem" or "postgres"
    instance: str

    # -- life ---------------------------------------------------------------------

    @abc.abstractmethod
    def configure(self, config: Config) -> None:
        """Use `config` from now on (a reload): window, backoff, limits, lease."""

    @abc.abstractmethod
    def check(self) -> str | None:
        """None when this backend can run (`run` refuses to start otherwise, with
        the line returned: e.g. an unknown schema version, a missing state root)."""

    @abc.abstractmethod
    def watch(self, wake: Wake, overflow: Callable[[], None]) -> Callable[[], None]:
        """Call `wake` when something may have become claimable: `wake(NAME)` for
        a name that appeared in the local `queue/` (inotify; the watcher passes it
        to `noticed`), `wake(None)` when the store itself changed (PostgreSQL's
        LISTEN/NOTIFY; the watcher only tries to claim); `overflow` when news
        were lost (then `rescan`). Returns the function that stops
        watching. Never the only source: the watcher also rescans on a timer."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections and descriptors; claims stay (see `hand_back`)."""

    # -- intake and claims ------------------------------------------------------------

    @abc.abstractmethod
    def noticed(self, name: str) -> None:
        """A hint: `queue/NAME` appeared (from `watch`). Cheap; never raises for
        a name that is gone again."""

    @abc.abstractmethod
    def rescan(self) -> int:
        """Look at the whole local `queue/` (events can be lost); on PostgreSQL
        ingest every complete handoff file into the database first (idempotent:
        a redo after a crash between commit and unlink makes no second handoff).
        Returns how many handoffs are claimable as far as this instance knows."""

    @abc.abstractmethod
    def submit(self, name: str, data: bytes) -> str:
        """Enqueue a handoff (`run.py submit`): the name it is queued as (unique,
        nothing overwritten). Atomic: it is whole in the queue or not there."""

    @abc.abstractmethod
    def claim_next(self) -> Claim | None:
        """Claim one handoff for this instance: a deferral whose wait is over
        first (oldest due first), else the oldest waiting in the queue. None when
        nothing is claimable. Of several instances racing, one gets each
        handoff; no lock is held after this returns."""

    @abc.abstractmethod
    def held(self) -> list[Claim]:
        """Every claim this instance holds now (after a restart: from before),
        each with the very `ref` that `claim_next` gave it: the watcher matches
        them against the refs on the work board."""

    @abc.abstractmethod
    def renew(self) -> None:
        """The heartbeat: this instance is alive, with what it holds; its leases
        are renewed (judged by the store's clock: the state root's, the
        database's `now()`)."""

    @abc.abstractmethod
    def recover_stale(self, record_event: Callable[[MetricLine], None]) -> int:
        """Take back, into the queue, the claims of every instance whose lease
        has lapsed (`[instance] lease_seconds`); returns how many."""

    @abc.abstractmethod
    def hand_back(self, claim: Claim) -> bool:
        """Back to the queue untouched (same attempt: its key is kept). False when
        it was no longer ours. On a read-only root it stays claimed (OSError)."""

    @abc.abstractmethod
    def hand_back_all(self) -> int:
        """A clean stop: every claim of this instance back, the heartbeat gone.
        OSError (a read-only root): what could not move stays claimed (`held`
        says what), to be taken back at this instance's next start or by a peer
        after the lease."""

    @abc.abstractmethod
    def idle(self) -> bool:
        """Nothing waits (queue or deferred), and no instance holds a claim: the
        whole store is drained (`run.py run --until-idle`, the tests)."""

    def resume_settling(self) -> int:
        """Finish the settles of this instance that a crash cut short (called by
        telemetry as it starts, before anything is handed back); returns how
        many. Nothing to do where each settle is one transaction (PostgreSQL):
        this default returns 0. OSError propagates (tried again at the next start)."""
        return 0

    @abc.abstractmethod
    def settling(self, claim: Claim) -> bool:
        """True while a settle of `claim` is under way or was cut short by a
        crash (it must not be handed back: the settle finishes it)."""

    # -- outcomes ------------------------------------------------------------------

    @abc.abstractmethod
    def open(self, claim: Claim, max_bytes: int) -> Opened:
        """The claimed bytes. Raises `Vanished`, `state.fsops.NotARegularFile`,
        `state.fsops.FileChanged` (the file was written in place while read),
        or OSError."""

    @abc.abstractmethod
    def repaired_before(self, bundle_sha256: str) -> ChallengerRef | None:
        """The challenger of an earlier repair of the same bundle, if any."""

    @abc.abstractmethod
    def settle(self, finishes: list[Finish]) -> list[Settled]:
        """Settle repairs: each challenger durable (at most one per bundle and
        result: an equal one makes this a duplicate), then the handoff in done/,
        then its `repaired` event; on the filesystem the lot is fsynced once (a
        group commit) and a crash between the steps is finished at the next
        start (settle notes); on PostgreSQL each is one transaction. A finish
        whose claim is no longer ours is `vanished` and changes nothing. OSError:
        the finishes not yet settled stay claimed (the caller hands them back)."""

    @abc.abstractmethod
    def fail(self, failure: Failure) -> FailureVerdict:
        """Record the failure against its bundle_sha256, judge the window as it
        stands in the store (every instance's records), and in the same step
        either defer the handoff until the backoff has passed or quarantine it to
        hard_fail/ with its reason; the `repair_failed` (and `quarantined`)
        events are recorded with it. A redo of the same attempt (same key) is not
        counted twice. Raises `Vanished` when the claim is no longer ours (fenced:
        nothing recorded)."""

    @abc.abstractmethod
    def mark_corrupt(self, corrupt: Corrupt) -> str:
        """To corrupt/ with its reason and the `corrupt` event; the name it has
        there. Raises `Vanished` when the claim is no longer ours."""

    @abc.abstractmethod
    def record_event(self, line: MetricLine) -> None:
        """Record one event that settles nothing (`actor_restarted`, `pruned`...).
        On PostgreSQL it is kept in the database and appended to this instance's
        local `metrics.jsonl`. OSError: it was not recorded (the caller may keep
        it and try again: telemetry does on a full root).

        The events a transition records itself (`settle`, `fail`, `mark_corrupt`,
        `recover_stale`) are part of it; should the filesystem refuse such a line
        after the move it belongs to (a full root), the filesystem backend keeps
        it in memory and writes it ahead of the next event it records (and at
        each `renew`), so no line is lost while the process lives."""

    @abc.abstractmethod
    def pattern_library(self) -> PatternStore | None:
        """The library `pattern_transplant` reads and learns into (`repair/
        patterns.py`'s interface: `candidates`, `learn`, `patterns`, `get`,
        `prune`, `close`); on PostgreSQL it lives in the database, so every host
        learns from every repair. None when it cannot be opened now (repair goes
        on without it)."""

    # -- the operator's ------------------------------------------------------------

    @abc.abstractmethod
    def release(self, name: str) -> ReleaseResult:
        """Move one quarantined handoff back to the queue (a new attempt) and
        forget its failures. Raises `errors.UsageError` when no handoff of that
        name is in quarantine."""

    @abc.abstractmethod
    def release_all(self) -> tuple[list[ReleaseResult], list[str]]:
        """Release every quarantined handoff; one error line per one that could
        not be; one failure does not stop the others."""

    @abc.abstractmethod
    def prune(self, ttl_seconds: float, *, now: float | None = None,
              dry_run: bool = False) -> PruneReport:
        """Remove what is older than the TTL (by the store's clock), in batches."""

    @abc.abstractmethod
    def status(self) -> StatusReport:
        """`run.py status`: where every handoff is, instances alive, the store."""

    @abc.abstractmethod
    def quarantined(self) -> list[QuarantineEntry]:
        """`run.py quarantine list`."""

    @abc.abstractmethod
    def quarantine_detail(self, name: str) -> QuarantineDetail:
        """`run.py quarantine show NAME` (UsageError when not quarantined)."""

    @abc.abstractmethod
    def lineage(self, tool: str) -> list[LineageEntry]:
        """`run.py lineage TOOL`: oldest first."""

    @abc.abstractmethod
    def challengers(self) -> Iterator[tuple[str, bytes]]:
        """Every challenger as (its §3 file name, its §3 JSON bytes), oldest
        first (`challengers export`, the dashboard's recent repairs)."""

    @abc.abstractmethod
    def recent_challengers(self, limit: int) -> list[Challenger]:
        """The `limit` newest challengers, newest first."""

    @abc.abstractmethod
    def event_batches(self) -> Iterator[list[MetricLine]]:
        """Every event recorded, oldest first, in batches (`run.py stats`)."""

    @abc.abstractmethod
    def events(self, cursor: EventCursor | None) -> tuple[list[MetricLine], EventCursor]:
        """The events recorded after `cursor` (None: from the first), and the
        cursor to ask with next time. Cheap when nothing is new: a scraper asks
        every few seconds and never reads the whole history again (a rotated
        metrics file is followed to its end, then the new one)."""


def open_backend(config: Config, instance: str, *, isolation: str = "") -> Backend:
    """The backend `[backend] kind` names, for `instance`. Raises
    `errors.ConfigError` for an unknown kind or a postgres backend without a
    DSN; `BackendUnavailable` when its store cannot be reached."""
    kind = getattr(getattr(config, "backend", None), "kind", "filesystem")
    if kind == "postgres":
        from repairlab.state.pg.backend import PostgresBackend  # psycopg only where it is used

        return PostgresBackend(config, instance, isolation=isolation)
    from repairlab.state.fs_backend import FilesystemBackend

    return FilesystemBackend(config, instance, isolation=isolation)
