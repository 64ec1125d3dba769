"""The handoff's transitions on PostgreSQL (`state/backend.py`'s `Backend`), each
one short transaction against a database that any number of hosts share.

**Fencing.** A claim's `ref` carries its row id and its claim token. Every
transition of a claimed handoff first takes the row through `hold` (queries.sql):
only while that token is the current one and the lease has not lapsed by the
database's clock. Otherwise nothing changes and the call raises `Vanished` (or
reports the finish `vanished`): a late settle or failure from a lapsed lease
never makes a second challenger or a doubled failure. A redo of a transition
whose commit went through but whose acknowledgement was lost (the connection
dropped at COMMIT) is fenced out the same way: the claim is no longer held, as on
the filesystem once the claim's file has moved; the caller drops it, and the
database holds the outcome once.

**No lock during a repair.** A claim is one statement that locks the rows it
takes (`FOR UPDATE SKIP LOCKED`) and commits at once; the repair runs with
nothing locked, protected by its token and lease alone.

**Decisions where they are recorded.** The failure window (counted by the
database's clock), the backoff and the quarantine are decided in the
transaction that records the failure, with the bundle's decisions serialized by
an advisory lock: the same whichever instance makes them, and made once. The
challenger, the done state and the `repaired` event commit together; so do a
release and the clearing of the bundle's failures.

**Input.** Each instance watches its own local `queue/` and ingests each file
(key: its name and the SHA-256 of its bytes, unique), unlinking it only after
the commit: an ingest redone after a crash between the two makes no second
handoff. While the daemon watches, one intake thread does this for the files
inotify and the rescans report (`_intake`), so that no claim waits for it.
`submit` inserts directly.

**The database going away.** `BackendUnavailable` (an OSError) comes out of any
method: nothing of that transition happened, or all of it did (then a redo is
fenced out, see above). The connector says so once in the log and backs off.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import psycopg
from loguru import logger
from psycopg.types.json import Jsonb

from repairlab.config.schema import Config
from repairlab.errors import HandoffInvalid, SchemaMismatch, UsageError
from repairlab.messages.commands import FailureVerdict
from repairlab.messages.handoff import decode_handoff
from repairlab.messages.records import Challenger, FailureRecord, MetricLine, ReasonFile, rfc3339
from repairlab.state.backend import (
    Backend,
    BackendUnavailable,
    ChallengerRef,
    Claim,
    Corrupt,
    EventCursor,
    Failure,
    Finish,
    Opened,
    PatternStore,
    Settled,
    Vanished,
    Wake,
)
from repairlab.state.challengers import challenger_name
from repairlab.state.claims import is_handoff_name
from repairlab.state.fsops import FileChanged, NotARegularFile, read_regular_file
from repairlab.state.layout import Layout
from repairlab.state.metrics import MetricsLog
from repairlab.state.pg import reports
from repairlab.state.pg.connector import PgConnector, Tx
from repairlab.state.pg.listener import WakeListener
from repairlab.state.pg.migrate import check as check_schema

if TYPE_CHECKING:
    from repairlab.messages.reports import (
        LineageEntry,
        QuarantineDetail,
        QuarantineEntry,
        ReleaseResult,
        StatusReport,
    )
    from repairlab.state.prune import PruneReport

_json = msgspec.json.Encoder()
PRUNE_BATCH = 1000
PRIORS_KEPT = 256  # claims whose bundle's prior challenger is remembered (`repaired_before`)
PRIOR_FRESH_SECONDS = 5.0  # how long a claim's reading of the bundle's challenger serves
INGEST_BATCH = 64  # local queue files ingested by one transaction (one commit's fsync), at most
CORRUPT_RULE = "the handoff is not valid repairlab.handoff/1 input"  # as actors/quarantine.py
EVENTS_PAGE = 10000
SILENT_LEASES = 10  # a heartbeat silent for this many leases is dropped from `instances`


class _Head(msgspec.Struct):
    repair_strategy: str | None = None


def ingest_key(name: str, data: bytes) -> str:
    """The identity of one producer's file: its name and the SHA-256 of its bytes."""
    return f"{name}:{hashlib.sha256(data).hexdigest()}"


def make_ref(row_id: int, token: str) -> str:
    """A claim's handle: the row and the token that fences it."""
    return f"pg:{row_id}:{token}"


def parse_ref(ref: str) -> tuple[int, str]:
    """(row id, token) of a ref; ValueError for one this backend did not make."""
    kind, row_id, token = ref.split(":", 2)
    if kind != "pg":
        raise ValueError(f"not a postgres claim: {ref!r}")
    return int(row_id), token


class PostgresBackend(Backend):
    """Every transition of a handoff for instance `instance`, in the database of
    `[backend] dsn` (`$REPAIRLAB_DSN` overrides it; the loader applies that)."""

    kind = "postgres"

    def __init__(self, config: Config, instance: str, *, isolation: str = "",
                 connector: PgConnector | None = None) -> None:
        self.config = config
        self.instance = instance
        self.isolation = isolation
        # One connection per thread that may use it at once: the repairers, the
        # watcher, the intake thread, telemetry, failure window, quarantine and pruner.
        self.db = connector or PgConnector(config.backend.dsn,
                                           max_size=config.repair.workers + 6).open()
        self.layout = Layout.from_config(config)
        self.local_metrics: MetricsLog | None = None
        self._bodies: dict[str, tuple[bytes, int]] = {}  # ref -> (bytes, attempt)
        # bundle_sha256 -> (its newest challenger's id as the claim saw it, when),
        # for the last PRIORS_KEPT claims (see `repaired_before`).
        self._priors: dict[str, tuple[int | None, float]] = {}
        self._priors_lock = threading.Lock()  # the watcher adds, repairers take
        # Names inotify reported in queue/, ingested together (see `noticed`), by the
        # intake thread while `watch` runs (`_intake`), else by the next claim.
        self._noticed: dict[str, None] = {}
        self._noticed_lock = threading.Lock()
        self._poke = threading.Event()
        self._intake_thread: threading.Thread | None = None
        self._stops: list[Callable[[], None]] = []
        self.log = logger.bind(instance=instance, backend="postgres")

    # -- life ----------------------------------------------------------------------------------

    def configure(self, config: Config) -> None:
        self.config = config

    def check(self) -> str | None:
        """None when the database has the schema this code speaks; else the line
        `run` refuses to start with."""
        try:
            check_schema(self.db)
        except SchemaMismatch as exc:
            return str(exc)
        except BackendUnavailable as exc:
            return str(exc)
        return None

    def watch(self, wake: Wake, overflow: Callable[[], None]) -> Callable[[], None]:
        """inotify on the local `queue/` (when it can be had) and a thread that
        LISTENs for the database's wake-ups; the returned function stops both."""
        from repairlab.state.queue_events import QueueNotifier

        self.layout.queue.mkdir(mode=0o700, parents=True, exist_ok=True)
        notifier = QueueNotifier(self.layout.queue, wake, overflow)
        try:
            notifier.start()
        except OSError as exc:
            self.log.info("no inotify on {} ({}): rescans only", self.layout.queue, exc)
        stopped = threading.Event()
        self._intake_thread = threading.Thread(target=self._intake, args=(stopped, wake),
                                               name=f"pg-intake-{self.instance}", daemon=True)
        self._intake_thread.start()
        # The wait is short so that stopping is quick; a notification ends it at once.
        listener = WakeListener(self.config.backend.dsn,
                                poll_seconds=min(1.0, self.config.watch.rescan_seconds))

        def listen() -> None:
            while not stopped.is_set():
                if listener.wait() and not stopped.is_set():
                    try:
                        wake(None)
                    except Exception:  # the receiver is restarting: the rescan catches up
                        self.log.opt(exception=True).debug("wake-up not delivered")
            listener.close()
        thread = threading.Thread(target=listen, name=f"pg-listen-{self.instance}", daemon=True)
        thread.start()

        def stop() -> None:
            stopped.set()
            self._poke.set()
            notifier.stop()
            thread.join(listener.poll_seconds + 5)
            if self._intake_thread is not None:
                self._intake_thread.join(self.db.timeout + 5)
        self._stops.append(stop)
        return stop

    def close(self) -> None:
        for stop in self._stops:
            stop()
        self._stops.clear()
        if self.local_metrics is not None:
            self.local_metrics.close()
        self.db.close()

    # -- intake --------------------------------------------------------------------------------

    def noticed(self, name: str) -> None:
        """`queue/NAME` appeared: the intake thread (`_intake`, while `watch`
        runs) ingests it at once with whatever else was noticed meanwhile; the
        watcher never waits for that commit. Without the thread, noticed files
        are ingested by the first `claim_next` that finds nothing claimable, by
        `renew` (the heartbeat) or by `rescan`. With the database away the files
        wait in `queue/` for a rescan."""
        if not is_handoff_name(name):
            return
        with self._noticed_lock:
            self._noticed[name] = None
        self._poke.set()

    def _intake(self, stopped: threading.Event, wake: Wake) -> None:
        """The intake thread: noticed files go into the database `INGEST_BATCH` to
        a transaction, as soon as they are noticed; those noticed while one
        commits go together in the next (a group commit: one fsync for a burst).
        Each commit that queued a handoff wakes the watcher (and, by NOTIFY, the
        other instances)."""
        while True:
            self._poke.wait()
            if stopped.is_set():
                return
            self._poke.clear()
            while self._noticed and not stopped.is_set():
                try:
                    made = self._ingest_noticed(INGEST_BATCH)
                except Exception:  # a bug: logged, and the rescans still ingest the files
                    self.log.opt(exception=True).error("intake failed; the next rescan retries")
                    break
                if made:
                    try:
                        wake(None)
                    except Exception:  # the watcher is restarting: its rescan catches up
                        self.log.opt(exception=True).debug("wake-up not delivered")

    def _intake_runs(self) -> bool:
        return self._intake_thread is not None and self._intake_thread.is_alive()

    def _ingest_noticed(self, limit: int | None = None) -> int:
        """Ingest the files noticed so far (the oldest `limit` of them); how many
        new handoffs were made."""
        with self._noticed_lock:
            names = list(itertools.islice(self._noticed, limit))
            for name in names:
                del self._noticed[name]
        if not names:
            return 0
        try:
            return self.ingest_files([self.layout.queue / name for name in names])
        except BackendUnavailable:
            pass  # the files stay; the next rescan ingests them
        except OSError as exc:
            self.log.warning("cannot ingest from queue/ ({}); the next rescan tries again", exc)
        return 0

    def rescan(self) -> int:
        """Ingest every complete handoff in the local `queue/` (through the intake
        thread while `watch` runs: counted by the next rescan), then count what
        is claimable in the whole database. BackendUnavailable propagates."""
        try:
            with os.scandir(self.layout.queue) as entries:
                names = sorted(e.name for e in entries if is_handoff_name(e.name))
        except FileNotFoundError:
            names = []
        if self._intake_runs():  # the intake thread ingests them (one owner while watching)
            with self._noticed_lock:
                self._noticed.update(dict.fromkeys(names))
            self._poke.set()
        else:
            with self._noticed_lock:
                self._noticed = {}
            self.ingest_files([self.layout.queue / name for name in names])
        row = self.db.one("due")
        assert row is not None
        return int(row["due"])

    def submit(self, name: str, data: bytes) -> str:
        """Straight into the database (`run.py submit`), as if through `queue/`."""
        self._ingested(self.db.run(lambda tx: self._woken(tx, [self._ingest(tx, name, data)])[0]))
        return name

    def ingest_files(self, paths: list[Path]) -> int:
        """Ingest local queue files, `INGEST_BATCH` to a transaction, each file
        unlinked only after its transaction committed (a crash in between: the
        redo finds the same ingest key and makes no second handoff). Special files
        and files written in place go one by one (`ingest_file`). Returns how many
        new handoffs were made. A file that cannot be read is logged and left for
        the next rescan; BackendUnavailable propagates (nothing of the failed
        batch is unlinked)."""
        limit = self.config.limits.max_handoff_bytes
        batch: list[tuple[Path, bytes]] = []
        made = 0
        for path in paths:
            try:
                data, _ = read_regular_file(path, limit)
                if len(data) > limit:
                    data = path.read_bytes()  # kept whole, recorded as corrupt (too large)
            except FileNotFoundError:
                continue
            except (NotARegularFile, FileChanged):
                made += bool(self.ingest_file(path))
                continue
            except OSError as exc:
                self.log.warning("cannot read queue/{} ({}); trying again later", path.name, exc)
                continue
            batch.append((path, data))
        for start in range(0, len(batch), INGEST_BATCH):
            chunk = batch[start:start + INGEST_BATCH]
            made += self.db.run(functools.partial(
                self._ingest_batch, [(path.name, data) for path, data in chunk]))
            for path, _ in chunk:
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
        return made

    def _ingest_batch(self, files: list[tuple[str, bytes]], tx: Tx) -> int:
        """Regular files (name, bytes) as handoff rows in one statement, as `_ingest`
        makes each (none is corrupt here); idle instances are woken at its commit
        when one is new. How many rows were made."""
        keys = [ingest_key(name, data) for name, data in files]
        heads = [self._head(data) for _, data in files]
        made = tx.all("ingest_batch", names=[name for name, _ in files], ingest_keys=keys,
                      bodies=[data for _, data in files],
                      bundle_sha256s=[h["bundle_sha256"] for h in heads],
                      tools=[h["tool"] for h in heads], lineages=[h["lineage"] for h in heads])
        if made:
            tx.execute("wake", why="queued")
        return len(made)

    def _head(self, data: bytes) -> dict[str, str | None]:
        """The columns a handoff row takes from its bytes; all None for a handoff
        that does not decode (queued all the same: its repairer marks it corrupt)."""
        limits = self.config.limits
        try:
            handoff = decode_handoff(data, max_bytes=limits.max_handoff_bytes,
                                     max_files=limits.max_files)
        except HandoffInvalid:
            return {"bundle_sha256": None, "tool": None, "lineage": None}
        return {"bundle_sha256": handoff.sha256, "tool": handoff.tool, "lineage": handoff.lineage}

    def ingest_file(self, path: Path) -> bool | None:
        """Ingest one local queue file, then unlink it (see the module doc).
        True: a new handoff; False: the same file was ingested before; None: it is
        gone. A special file (symlink, FIFO...) or one written in place while read
        is recorded as corrupt with that reason (empty bytes), and its entry goes."""
        limit = self.config.limits.max_handoff_bytes
        try:
            data, _ = read_regular_file(path, limit)
            if len(data) > limit:
                data = path.read_bytes()  # kept whole, recorded as corrupt (too large)
            created = self.db.run(
                lambda tx: self._woken(tx, [self._ingest(tx, path.name, data)])[0])
        except FileNotFoundError:
            return None
        except (NotARegularFile, FileChanged) as exc:
            # As the filesystem backend does at its read: corrupt, with the reason.
            # A special file is not read at all; its entry goes (never its target).
            code = "file_type" if isinstance(exc, NotARegularFile) else "changed"
            message = f"the handoff is {exc}" if code == "file_type" else str(exc)
            created = self.db.run(lambda tx: self._ingest(
                tx, path.name, b"", invalid=HandoffInvalid(code, message),
                key=f"{path.name}:{code}:{time.time_ns()}"))
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        return self._ingested(created)

    def _ingested(self, made: tuple[bool, MetricLine | None]) -> bool:
        if made[1] is not None:
            self._local(made[1])
        return made[0]

    def _ingest(self, tx: Tx, name: str, data: bytes, *, invalid: HandoffInvalid | None = None,
                key: str | None = None) -> tuple[bool, MetricLine | None]:
        """One handoff row. A handoff that does not decode is queued all the same
        (without bundle_sha256): the repairer that claims it finds it invalid and
        marks it corrupt, as on the filesystem (one owner per transition). Only
        what cannot be carried at all (`invalid`: a special file, a file written
        in place) is recorded as corrupt here, with its reason."""
        key = key or ingest_key(name, data)
        fields: dict[str, Any] = {"bundle_sha256": None, "tool": None, "lineage": None,
                                  "state": "queued", "reason": None}
        line = None
        if invalid is not None:
            reason = ReasonFile(handoff=name, rule=CORRUPT_RULE,
                                reason=f"{invalid.reason}: {invalid}", field=invalid.field,
                                instance=self.instance, corrupt_at=rfc3339(time.time()))
            fields.update(state="corrupt", reason=_jsonb(reason))
            line = self._line("corrupt", handoff=name, reason=str(invalid)[:500])
        else:
            fields.update(self._head(data))  # all None if it does not decode: see above
        if tx.one("ingest", name=name, ingest_key=key, body=data, **fields) is None:
            return False, None
        if line is not None:
            self._event(tx, line)
        return True, line

    def _woken(self, tx: Tx, results: list[tuple[bool, MetricLine | None]],
               ) -> list[tuple[bool, MetricLine | None]]:
        """`results` of `_ingest` in `tx`; idle instances are woken (once) at its
        commit when one of them queued a new handoff."""
        if any(made and line is None for made, line in results):
            tx.execute("wake", why="queued")
        return results

    # -- claims --------------------------------------------------------------------------------

    def claim_next(self) -> Claim | None:
        """One statement in a transaction whose commit does not wait for the disk:
        a claim lost in a crash of the database leaves the row claimable, and the
        instance that thought it held it is fenced off when it settles.

        A claim never waits for the ingest of a batch it does not need: while
        `watch` runs, the intake thread ingests what is noticed in `queue/`;
        otherwise noticed files are ingested only when the database has nothing
        claimable (then the claim is tried again)."""
        row = self._claim_row()
        if row is None and self._noticed and not self._intake_runs():
            self._ingest_noticed()
            row = self._claim_row()
        if row is None:
            return None
        ref = make_ref(row["id"], str(row["claim_token"]))
        self._bodies[ref] = (bytes(row["body"]), int(row["attempt"]))
        if row["bundle_sha256"] is not None:
            with self._priors_lock:
                self._priors[row["bundle_sha256"]] = (row["prior_challenger"], time.monotonic())
                while len(self._priors) > PRIORS_KEPT:
                    del self._priors[next(iter(self._priors))]
        return Claim(ref=ref, name=row["name"])

    def _claim_row(self) -> dict[str, Any] | None:
        """The claimed row (the statement claims one at most), or None."""
        return self.db.one("claim", instance=self.instance,
                           lease_seconds=self.config.instance.lease_seconds)

    def held(self) -> list[Claim]:
        return [Claim(ref=make_ref(r["id"], str(r["claim_token"])), name=r["name"])
                for r in self.db.all("held_by", instance=self.instance)]

    def renew(self) -> None:
        """The heartbeat row (stamped by the database) and every live lease of
        this instance, in one transaction. A lapsed lease is not renewed."""
        lease = self.config.instance.lease_seconds
        if not self._intake_runs():
            self._ingest_noticed()  # a busy instance's noticed files wait no longer than this

        def work(tx: Tx) -> None:
            tx.execute("relaxed_commit")  # a renewal lost in a crash: a shorter lease
            tx.execute("heartbeat", instance=self.instance, host=socket.gethostname(),
                       pid=os.getpid(), isolation=self.isolation)
            tx.execute("renew_claims", instance=self.instance, lease_seconds=lease)
        self.db.run(work)

    def recover_stale(self, record_event: Callable[[MetricLine], None]) -> int:
        """Claims whose lease lapsed by the database's clock go back (to `deferred`
        if their wait is not over), their tokens cleared; heartbeats silent for
        many leases are dropped. Any instance may run it; each row goes back once."""
        rows = self.db.all("take_back_lapsed", limit=1000)
        if rows:
            self.db.execute("wake", why="lapsed")
            self.log.info("took back {} handoffs whose lease lapsed", len(rows))
        self.db.execute("forget_silent_instances",
                        seconds=SILENT_LEASES * self.config.instance.lease_seconds)
        return len(rows)

    def hand_back(self, claim: Claim) -> bool:
        row_id, token = parse_ref(claim.ref)
        self._bodies.pop(claim.ref, None)
        back = self.db.run(lambda tx: tx.one("hand_back", id=row_id, token=token) is not None
                           and tx.execute("wake", why="handed back") >= 0)
        return bool(back)

    def hand_back_all(self) -> int:
        def work(tx: Tx) -> int:
            rows = tx.all("hand_back_all", instance=self.instance)
            tx.execute("forget_instance", instance=self.instance)
            if rows:
                tx.execute("wake", why="handed back")
            return len(rows)
        self._bodies.clear()
        return self.db.run(work)

    def idle(self) -> bool:
        busy = self.db.one("busy")
        if busy is None or busy["busy"]:
            return False
        try:
            with os.scandir(self.layout.queue) as entries:
                return not any(is_handoff_name(e.name) for e in entries)
        except FileNotFoundError:
            return True

    def settling(self, claim: Claim) -> bool:
        return False  # a settle is one transaction: never cut short half-way

    # -- outcomes ------------------------------------------------------------------------------

    def open(self, claim: Claim, max_bytes: int) -> Opened:
        row_id, token = parse_ref(claim.ref)
        cached = self._bodies.pop(claim.ref, None)
        if cached is None:
            row = self.db.one("open_claim", id=row_id, token=token)
            if row is None:
                raise Vanished(f"{claim.name} is no longer held by {self.instance}")
            cached = (bytes(row["body"]), int(row["attempt"]))
        data, attempt = cached
        return Opened(data=data[:max_bytes + 1], key=f"{row_id}:{attempt}")

    def repaired_before(self, bundle_sha256: str) -> ChallengerRef | None:
        """The bundle's newest challenger. A claim of the bundle moments ago read
        it already (one round trip fewer per handoff), and nothing settled here
        since; a challenger another instance adds after that read is found by
        `settle`, which then settles a duplicate, as for one added after a query."""
        with self._priors_lock:
            prior, seen = self._priors.pop(bundle_sha256, (None, -math.inf))
        if time.monotonic() - seen <= PRIOR_FRESH_SECONDS:
            row = None if prior is None else self.db.one("challenger_by_id", id=prior)
        else:
            row = self.db.one("find_challenger", bundle_sha256=bundle_sha256,
                              repaired_sha256=None)
        if row is None:
            return None
        head = msgspec.json.decode(bytes(row["body"]), type=_Head)
        return ChallengerRef(name=row["file_name"], strategy=head.repair_strategy)

    def settle(self, finishes: list[Finish]) -> list[Settled]:
        """The whole batch in one transaction (one commit, one WAL flush: the group
        commit of the filesystem's telemetry), each finish under a savepoint of its
        own: a finish the database refuses (its statement fails) is reported with
        `error`, still claimed, and the others settle. The database going away
        settles none (BackendUnavailable): the caller hands them back or retries."""
        def work(tx: Tx) -> list[Settled]:
            settled = []
            for finish in finishes:
                try:
                    with tx.conn.transaction():
                        settled.append(self._settle(tx, finish))
                except psycopg.OperationalError:
                    raise
                except psycopg.Error as exc:
                    settled.append(_refused_by_database(finish, exc))
            return settled
        for finish in finishes:
            self._bodies.pop(finish.claim.ref, None)
        if len(finishes) == 1:  # nothing to keep apart: no savepoint round trips
            try:
                done = [self._settle_alone(finishes[0])]
            except psycopg.OperationalError:
                raise
            except psycopg.Error as exc:
                done = [_refused_by_database(finishes[0], exc)]
        else:
            done = self.db.run(work)
        for each in done:
            if each.line is not None and not each.vanished:
                self._local(each.line)
        return done

    def _forget_prior(self, bundle_sha256: str) -> None:
        """A settle of the bundle: what a claim read of its challengers is old now."""
        with self._priors_lock:
            self._priors.pop(bundle_sha256, None)

    def _settle_alone(self, finish: Finish) -> Settled:
        """One finish: a repair with its challenger in one statement
        (settle_repaired), else (no challenger of its own, the claim lost, a
        challenger committed meanwhile) in a transaction of several."""
        challenger = finish.challenger
        if challenger is not None:
            row_id, token = parse_ref(finish.claim.ref)
            row = self.db.one(
                "settle_repaired", id=row_id, token=token,
                bundle_sha256=challenger.bundle_sha256, repaired_sha256=challenger.repaired_sha256,
                tool=challenger.tool, body=_json.encode(challenger),
                file_name=challenger_name(challenger.bundle_sha256, time.time()),
                **_event_fields(finish.line))
            if row is not None:
                self._forget_prior(challenger.bundle_sha256)
                line = msgspec.structs.replace(finish.line, challenger=row["file_name"],
                                               duplicate=row["duplicate"])
                return Settled(claim=finish.claim, line=line)
        return self.db.run(lambda tx: self._settle(tx, finish))

    def _settle(self, tx: Tx, finish: Finish) -> Settled:
        row_id, token = parse_ref(finish.claim.ref)
        row = tx.one("hold", id=row_id, token=token)
        if row is None:
            self._refused(finish.claim, "settle")
            return Settled(claim=finish.claim, line=None, vanished=True)
        challenger = finish.challenger
        if challenger is not None:
            made = tx.one("insert_challenger", bundle_sha256=challenger.bundle_sha256,
                          repaired_sha256=challenger.repaired_sha256, tool=challenger.tool,
                          file_name=challenger_name(challenger.bundle_sha256, time.time()),
                          body=_json.encode(challenger))
            existing = made or tx.one("find_challenger", bundle_sha256=challenger.bundle_sha256,
                                      repaired_sha256=challenger.repaired_sha256)
            duplicate = made is None
        else:
            existing = None
            if finish.line.challenger:
                existing = tx.one("challenger_by_name", file_name=finish.line.challenger)
            existing = existing or tx.one("find_challenger", bundle_sha256=row["bundle_sha256"],
                                          repaired_sha256=None)
            duplicate = True
        if existing is None:
            raise ValueError(f"no challenger to point {finish.claim.name} at")
        line = msgspec.structs.replace(finish.line, challenger=existing["file_name"],
                                       duplicate=duplicate)
        tx.execute("mark_done", id=row_id, challenger_id=existing["id"], duplicate=duplicate,
                   **_event_fields(line))
        self._forget_prior(row["bundle_sha256"])
        return Settled(claim=finish.claim, line=line)

    def fail(self, failure: Failure) -> FailureVerdict:
        window = self.config.failure_window
        rule = (f"{window.max_failures} failures of the same bundle_sha256 within "
                f"{window.window_seconds:g} seconds")
        row_id, token = parse_ref(failure.claim.ref)
        sha = failure.bundle_sha256

        def work(tx: Tx) -> tuple[FailureVerdict, list[MetricLine]] | None:
            row = tx.one("hold", id=row_id, token=token)
            if row is None:
                return None
            tx.execute("lock_bundle", bundle_sha256=sha)
            tx.execute("insert_failure", bundle_sha256=sha, attempt_key=failure.record.key,
                       instance=failure.record.instance or self.instance,
                       reason=failure.record.reason[:2000],
                       handoff=failure.record.handoff or row["name"])
            recent = self._window(tx, sha)
            now = float(tx.one("db_now")["now"])  # type: ignore[index]
            line = msgspec.structs.replace(failure.line, failures=len(recent))
            lines = [line]
            if len(recent) >= window.max_failures:
                reason = ReasonFile(
                    handoff=row["name"], rule=rule, bundle_sha256=sha, failures=recent,
                    quarantined_at=rfc3339(now), tool=failure.tool, lineage=failure.lineage,
                    reason=failure.record.reason[:2000], instance=self.instance,
                    last_test_output=failure.last_test_output or None,
                    last_attempt=failure.last_attempt)
                tx.execute("quarantine", id=row_id, reason=_jsonb(reason))
                lines.append(msgspec.structs.replace(line, event="quarantined"))
                verdict = FailureVerdict(quarantine=True, failures=recent, not_before=now,
                                         rule=rule)
            else:
                deferred = tx.one("defer", id=row_id,
                                  delay_seconds=self.config.backoff.delay(len(recent)))
                assert deferred is not None  # the row is held by this transaction
                verdict = FailureVerdict(quarantine=False, failures=recent,
                                         not_before=float(deferred["not_before"]), rule=rule)
            for each in lines:
                self._event(tx, each)
            return verdict, lines
        self._bodies.pop(failure.claim.ref, None)
        done = self.db.run(work)
        if done is None:
            self._refused(failure.claim, "failure record")
            raise Vanished(f"{failure.claim.name} is no longer held by {self.instance}")
        for line in done[1]:
            self._local(line)
        return done[0]

    def _window(self, tx: Tx, sha: str) -> list[FailureRecord]:
        return [FailureRecord(ts=rfc3339(r["ts"]), instance=r["instance"], reason=r["reason"],
                              key=r["attempt_key"], handoff=r["handoff"])
                for r in tx.all("failures_in_window", bundle_sha256=sha,
                                window_seconds=self.config.failure_window.window_seconds)]

    def mark_corrupt(self, corrupt: Corrupt) -> str:
        row_id, token = parse_ref(corrupt.claim.ref)

        def work(tx: Tx) -> MetricLine | None:
            row = tx.one("hold", id=row_id, token=token)
            if row is None:
                return None
            reason = ReasonFile(handoff=row["name"], rule=CORRUPT_RULE,
                                reason=f"{corrupt.reason}: {corrupt.message}",
                                field=corrupt.field, instance=self.instance,
                                corrupt_at=rfc3339(time.time()))
            tx.execute("mark_corrupt", id=row_id, reason=_jsonb(reason))
            line = self._line("corrupt", handoff=row["name"], reason=corrupt.message[:500])
            self._event(tx, line)
            return line
        self._bodies.pop(corrupt.claim.ref, None)
        line = self.db.run(work)
        if line is None:
            self._refused(corrupt.claim, "corrupt")
            raise Vanished(f"{corrupt.claim.name} is no longer held by {self.instance}")
        self._local(line)
        return corrupt.claim.name

    def record_event(self, line: MetricLine) -> None:
        self.db.run(lambda tx: self._event(tx, line))
        self._local(line)

    def pattern_library(self) -> PatternStore | None:
        from repairlab.state.pg.patterns import PgPatternLibrary

        try:
            return PgPatternLibrary(self.db)
        except BackendUnavailable as exc:
            self.log.info("pattern library unavailable now ({}): repairing without it", exc)
            return None

    # -- the operator's ------------------------------------------------------------------------

    def release(self, name: str) -> ReleaseResult:
        """`name` or `name.json`, as on the filesystem; queued as the same name
        (`queue/NAME` in what is printed: where it is on the filesystem)."""
        from repairlab.messages.reports import ReleaseResult

        name = _json_name(name)

        def work(tx: Tx) -> tuple[ReleaseResult, MetricLine] | None:
            row = tx.one("quarantined_by_name", name=name)
            if row is None:
                return None
            tx.execute("release", id=row["id"])
            sha = row["bundle_sha256"]
            cleared = tx.execute("clear_failures", bundle_sha256=sha) if sha else 0
            line = self._line("released", handoff=name, bundle_sha256=sha,
                              failures=cleared)
            self._event(tx, line)
            tx.execute("wake", why="released")
            return ReleaseResult(name=name, queued_as=f"queue/{name}", bundle_sha256=sha,
                                 failures_cleared=cleared), line
        done = self.db.run(work)
        if done is None:
            raise UsageError(f"no quarantined handoff named {name!r}")
        self._local(done[1])
        return done[0]

    def release_all(self) -> tuple[list[ReleaseResult], list[str]]:
        released, errors = [], []
        for entry in self.quarantined():
            try:
                released.append(self.release(entry.name))
            except (UsageError, OSError) as exc:
                errors.append(f"{entry.name}: {exc}")
        return released, errors

    def prune(self, ttl_seconds: float, *, now: float | None = None,
              dry_run: bool = False) -> PruneReport:
        """Rows older than the TTL before `now` (default: the database's clock,
        no host's), deleted in batches of PRUNE_BATCH, each batch its own short
        transaction."""
        from repairlab.state.prune import PruneReport

        if now is None:
            now = float(self.db.one("db_now")["now"])  # type: ignore[index]
        cutoff = now - ttl_seconds
        report = PruneReport(dry_run=dry_run)
        if dry_run:
            report.removed = [(Path(r["path"]), int(r["size"]))
                              for r in self.db.all("prune_preview", cutoff=cutoff)]
            report.removed = sorted((_place(p), n) for p, n in report.removed)
            return report  # in path order, as the filesystem lists them
        for statement in ("prune_handoffs", "prune_challengers", "prune_failures",
                          "prune_events"):
            while True:
                rows = self.db.all(statement, cutoff=cutoff, batch=PRUNE_BATCH)
                report.removed += [(_place(Path(r["path"])), int(r["size"])) for r in rows
                                   if statement in ("prune_handoffs", "prune_challengers")]
                if len(rows) < PRUNE_BATCH:
                    break
        report.removed.sort()  # in path order, as the filesystem lists them
        return report

    def status(self) -> StatusReport:
        return reports.status(self.db, self.config)

    def quarantined(self) -> list[QuarantineEntry]:
        return reports.quarantined(self.db)

    def quarantine_detail(self, name: str) -> QuarantineDetail:
        return reports.quarantine_detail(self.db, _json_name(name))

    def lineage(self, tool: str) -> list[LineageEntry]:
        return reports.lineage(self.db, tool)

    def challengers(self) -> Iterator[tuple[str, bytes]]:
        after = 0
        while True:
            rows = self.db.all("challengers_after", after=after, limit=500)
            for row in rows:
                after = row["id"]
                yield row["file_name"], bytes(row["body"])
            if len(rows) < 500:
                return

    def recent_challengers(self, limit: int) -> list[Challenger]:
        decoder = msgspec.json.Decoder(Challenger)
        return [decoder.decode(bytes(r["body"]))
                for r in self.db.all("recent_challengers", limit=limit)]

    def event_batches(self) -> Iterator[list[MetricLine]]:
        """Every event visible now, in pages, in the order of `events` (by the
        writing transaction, then id; `stats`: a one-shot read, which needs no
        cursor that survives it)."""
        decoder = msgspec.json.Decoder(MetricLine)
        xid, after = 0, 0
        while True:
            rows = self.db.all("events_page", xid=xid, id=after, limit=EVENTS_PAGE)
            if rows:
                xid, after = rows[-1]["xid"], rows[-1]["id"]
                yield [decoder.decode(_json.encode(r["line"])) for r in rows]
            if len(rows) < EVENTS_PAGE:
                return

    def events(self, cursor: EventCursor | None) -> tuple[list[MetricLine], EventCursor]:
        """The events after the cursor, at most EVENTS_PAGE at a time.

        The cursor is a transaction id, not an event id: event ids are taken at
        insert and seen at commit, so a reader going by ids could pass over an
        event that commits late under a low id. Events are read up to the oldest
        transaction still running (every one before it is over) and the cursor
        moves to it; a full page stops before its last transaction, which the
        next call reads whole."""
        after = 0 if cursor is None else cursor.position
        rows = self.db.all("events_after", after=after, limit=EVENTS_PAGE)
        position = int(rows[0]["upto"]) if rows else after
        rows = [r for r in rows if r["id"] is not None]
        if len(rows) == EVENTS_PAGE:
            last = rows[-1]["xid"]
            whole = [r for r in rows if r["xid"] != last]
            rows, position = (whole, int(last)) if whole else (rows, int(last) + 1)
        decoder = msgspec.json.Decoder(MetricLine)
        lines = [decoder.decode(_json.encode(r["line"])) for r in rows]
        return lines, EventCursor(source="postgres", position=position)

    # -- helpers -------------------------------------------------------------------------------

    def _refused(self, claim: Claim, what: str) -> None:
        self.log.bind(handoff=claim.name).info(
            "{} of {!r} refused: its lease lapsed or another instance holds it", what,
            claim.name)

    def _line(self, event: str, **fields: Any) -> MetricLine:
        return MetricLine(ts=rfc3339(time.time()), event=event, instance=self.instance,
                          meta_repair=False, **{k: v for k, v in fields.items() if v is not None})

    def _event(self, tx: Tx, line: MetricLine) -> None:
        tx.execute("insert_event", **_event_fields(line))

    def _local(self, line: MetricLine) -> None:
        """This instance's copy of its event in its own `metrics.jsonl` (SPEC §9);
        a write that fails is logged and dropped: the database has the event."""
        if line.instance != self.instance:
            return
        try:
            if self.local_metrics is None:
                self.layout.metrics.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                self.local_metrics = MetricsLog(self.layout.metrics, self.instance)
            self.local_metrics.append(line)
        except OSError as exc:
            self.log.warning("local metrics line {} not written ({}); the database has it",
                             line.event, exc)


_PLACES = {"done": "processed/done", "hard_fail": "processed/hard_fail",
           "corrupt": "processed/corrupt", "queued": "queue", "deferred": "deferred"}


def _event_fields(line: MetricLine) -> dict[str, Any]:
    """The parameters of an events row (insert_event, mark_done)."""
    return {"event": line.event, "instance": line.instance,
            "line": Jsonb(msgspec.to_builtins(line))}


def _refused_by_database(finish: Finish, exc: psycopg.Error) -> Settled:
    """A finish whose statements the database refused: still claimed, with why."""
    return Settled(claim=finish.claim, line=None, error=f"{type(exc).__name__}: {exc}"[:500])


def _place(path: Path) -> Path:
    """A pruned row's path as the place it has on the filesystem (SPEC §1), so
    `prune` prints the same on both backends: `handoffs/done/x.json` ->
    `processed/done/x.json`; a challenger's path is already `challengers/NAME`."""
    parts = path.parts
    if len(parts) == 3 and parts[0] == "handoffs" and parts[1] in _PLACES:
        return Path(_PLACES[parts[1]]) / parts[2]
    return path


def _json_name(name: str) -> str:
    """`NAME` or `NAME.json` -> `NAME.json` (what the operator may type)."""
    return name if name.endswith(".json") else name + ".json"


def _jsonb(obj: msgspec.Struct) -> Jsonb:
    return Jsonb(msgspec.to_builtins(obj))
