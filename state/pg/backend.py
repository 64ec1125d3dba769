"""The handoff's transitions on PostgreSQL: each one short transaction.

Every transition of a claimed handoff (renew, record a failure and defer or
quarantine, settle done, mark corrupt, hand back) names the claim's token in its
fence (`hold` in queries.sql: the row, only while the token is current and the
lease unexpired by the database's clock). A claim whose lease lapsed, or that was
taken back and claimed again, changes nothing: the call returns a `Result` with
`applied=False, state="lost"`. A redo of a transition whose commit went through
but whose acknowledgement was lost (the connection dropped at COMMIT) finds its
own token on the settled row and reports what was done, without doing it twice.

No row lock is held outside these calls: a claim is one statement that locks the
rows it takes (`FOR UPDATE SKIP LOCKED`) and commits at once; a repair runs with
nothing locked, protected by its token and its lease alone.

Decisions are made in the transaction that records them, from what the database
holds, so that they are the same whichever instance makes them and made once:
the failure window (counted by the database's clock), the backoff and the
quarantine; the challenger, the done state and the `repaired` event; a release
and the clearing of the bundle's failures.

`DatabaseUnavailable` (state/pg/connector.py) propagates out of every method:
nothing was decided that the caller must know of, and the call can be repeated.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
from loguru import logger
from psycopg.types.json import Jsonb

from config.schema import Config
from errors import HandoffInvalid
from messages.commands import FailureVerdict
from messages.handoff import decode_handoff
from messages.records import (
    Challenger,
    FailureRecord,
    MetricLine,
    ReasonFile,
    RepairAttempt,
    parse_rfc3339,
    rfc3339,
)
from state.challengers import challenger_name
from state.fsops import NotARegularFile, read_regular_file
from state.metrics import MetricsLog
from state.pg.connector import PgConnector, Row, Tx

_json = msgspec.json.Encoder()
PRUNE_BATCH = 1000


class PgClaim(msgspec.Struct, frozen=True, kw_only=True):
    """A handoff this instance holds: its row, the token that fences every
    transition of this claim, and which attempt (claim) of the handoff it is."""

    id: int
    name: str
    body: bytes
    token: str
    attempt: int
    bundle_sha256: str | None = None
    tool: str | None = None
    lineage: str | None = None
    lease_expires: float = 0.0  # the database's clock

    @property
    def attempt_key(self) -> str:
        """Identifies this attempt: a failure recorded twice for it counts once."""
        return f"{self.id}:{self.attempt}"


class Result(msgspec.Struct, frozen=True, kw_only=True):
    """What a transition of a claim did. `applied`: this call changed the
    handoff (False with `state="lost"`: fenced out, nothing changed; False with
    another state: an earlier call for this claim had already done it)."""

    applied: bool
    state: str
    challenger: str | None = None
    duplicate: bool = False
    verdict: FailureVerdict | None = None
    line: MetricLine | None = None


class Ingested(msgspec.Struct, frozen=True, kw_only=True):
    """An ingest: the handoff's id, and whether this call made it (False: the same
    file, by name and bytes, was ingested before, e.g. before a crash)."""

    id: int
    created: bool
    state: str


class Counts(msgspec.Struct, frozen=True, kw_only=True):
    """Handoffs by state (`due`: claimable now)."""

    due: int
    queued: int
    deferred: int
    claimed: int
    done: int
    hard_fail: int
    corrupt: int


def ingest_key(name: str, data: bytes) -> str:
    """The identity of one producer's file: its name and the SHA-256 of its bytes."""
    return f"{name}:{hashlib.sha256(data).hexdigest()}"


class PostgresBackend:
    """Every transition of a handoff, against one database shared by all hosts.

    `local_metrics`, when given, gets a copy of each of this instance's events
    after its commit (SPEC §9: each instance keeps its own `metrics.jsonl` too);
    a local write that fails is logged and dropped, the database keeps the event.
    """

    def __init__(self, connector: PgConnector, config: Config, instance: str, *,
                 local_metrics: MetricsLog | None = None, isolation: str = "") -> None:
        self.db = connector
        self.config = config
        self.instance = instance
        self.local_metrics = local_metrics
        self.isolation = isolation
        self.log = logger.bind(instance=instance, backend="postgres")

    # -- input ---------------------------------------------------------------------------------

    def submit(self, name: str, data: bytes) -> Ingested:
        """A handoff straight into the database (`run.py submit`). An invalid one is
        recorded as corrupt with its reason, as if it had come through `queue/`."""
        return self.db.run(lambda tx: self._ingest(tx, name, data))

    def ingest_file(self, path: Path) -> Ingested | None:
        """Ingest `queue/NAME` and then unlink it, only once the handoff is committed.
        A crash between the two leaves the file, whose next ingest finds its key and
        only unlinks it: never a second handoff. Returns None when the file is gone
        or is no regular file (it is left to the queue's own checks). OSError of the
        read propagates; the file stays."""
        try:
            data, _ = read_regular_file(path, self.config.limits.max_handoff_bytes)
        except (FileNotFoundError, NotARegularFile):
            return None
        if len(data) > self.config.limits.max_handoff_bytes:
            # Recorded as corrupt (too large) with the whole file, as on the filesystem.
            data = path.read_bytes()
        ingested = self.db.run(lambda tx: self._ingest(tx, path.name, data))
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        return ingested

    def _ingest(self, tx: Tx, name: str, data: bytes) -> Ingested:
        key = ingest_key(name, data)
        limits = self.config.limits
        fields: dict[str, Any] = {"bundle_sha256": None, "tool": None, "lineage": None,
                                  "state": "queued", "reason": None}
        line = None
        try:
            handoff = decode_handoff(data, max_bytes=limits.max_handoff_bytes,
                                     max_files=limits.max_files)
            fields.update(bundle_sha256=handoff.sha256, tool=handoff.tool,
                          lineage=handoff.lineage)
        except HandoffInvalid as exc:
            now = time.time()
            reason = ReasonFile(handoff=name, rule="not a valid repairlab.handoff/1",
                                reason=str(exc), field=exc.field, instance=self.instance,
                                corrupt_at=rfc3339(now))
            fields.update(state="corrupt", reason=_jsonb(reason))
            line = self._line("corrupt", handoff=name, reason=str(exc)[:500])
        row = tx.one("ingest", name=name, ingest_key=key, body=data, **fields)
        if row is None:
            found = tx.one("find_ingested", ingest_key=key)
            assert found is not None  # the conflict that suppressed the insert
            return Ingested(id=found["id"], created=False, state=found["state"])
        if line is not None:
            self._event(tx, line)
        else:
            tx.execute("wake", why="queued")
        return Ingested(id=row["id"], created=True, state=fields["state"])

    # -- claims --------------------------------------------------------------------------------

    def claim(self, limit: int = 1) -> list[PgClaim]:
        """Up to `limit` handoffs due now, each under a fresh lease and token."""
        if limit <= 0:
            return []
        rows = self.db.all("claim", limit=limit, instance=self.instance,
                           lease_seconds=self.config.instance.lease_seconds)
        return [_claim(row) for row in sorted(rows, key=lambda r: r["id"])]

    def renew(self, claims: list[PgClaim] | None = None) -> set[int]:
        """The heartbeat: this instance is alive, and its leases are extended.
        Returns the ids of the handoffs still held (a lapsed or lost claim is not
        among them, and must not be settled: it would be refused)."""
        lease = self.config.instance.lease_seconds

        def work(tx: Tx) -> set[int]:
            tx.execute("heartbeat", instance=self.instance, host=socket.gethostname(),
                       pid=os.getpid(), isolation=self.isolation)
            rows = tx.all("renew_claims", instance=self.instance, lease_seconds=lease)
            return {row["id"] for row in rows}
        held = self.db.run(work)
        if claims is not None:
            return held & {c.id for c in claims}
        return held

    def take_back_lapsed(self, limit: int = 1000) -> int:
        """Claims whose lease lapsed (their instance died or lost the database)
        become claimable again. Any instance may run it; each row goes back once."""
        rows = self.db.all("take_back_lapsed", limit=limit)
        if rows:
            self.db.execute("wake", why="lapsed")
            self.log.info("took back {} handoffs whose lease lapsed", len(rows))
        return len(rows)

    def held(self) -> list[Row]:
        """What this instance holds, by the database."""
        return self.db.all("held_by", instance=self.instance)

    def hand_back(self, claim: PgClaim) -> bool:
        """Give a held handoff back untouched (shutdown, a restarting actor): no
        failure is counted. False when it was no longer held by this claim."""
        return self.db.one("hand_back", id=claim.id, token=claim.token) is not None

    def hand_back_all(self) -> int:
        """Everything this instance id holds goes back (at start: a previous run
        with the same id died holding it)."""
        rows = self.db.all("hand_back_all", instance=self.instance)
        if rows:
            self.db.execute("wake", why="handed back")
        return len(rows)

    def forget_instance(self) -> None:
        """A clean exit: hand everything back, drop the heartbeat."""
        self.hand_back_all()
        self.db.execute("forget_instance", instance=self.instance)

    # -- outcomes --------------------------------------------------------------------------------

    def record_failure(self, claim: PgClaim, reason: str, *,
                       last_attempt: RepairAttempt | None = None,
                       duration_s: float | None = None) -> Result:
        """Record a failed attempt and decide, in one transaction: quarantine once
        `max_failures` failures of the bundle fall within `window_seconds` (the
        database's clock), else back off `config.backoff.delay(count)`. The
        decisions about one bundle are serialized (an advisory lock), so two
        instances failing it at once decide once, the same way.

        A handoff never decoded (no bundle_sha256) is keyed by its bytes' SHA-256."""
        window = self.config.failure_window
        rule = (f"{window.max_failures} failures of the same bundle_sha256 within "
                f"{window.window_seconds:g} seconds")

        def work(tx: Tx) -> Result:
            row = tx.one("hold", id=claim.id, token=claim.token)
            if row is None:
                return self._fenced(tx, claim, "failure record")
            sha = row["bundle_sha256"] or hashlib.sha256(row["body"]).hexdigest()
            tx.execute("lock_bundle", bundle_sha256=sha)
            tx.execute("insert_failure", bundle_sha256=sha, attempt_key=claim.attempt_key,
                       instance=self.instance, reason=reason[:2000], handoff=row["name"])
            recent = [FailureRecord(ts=rfc3339(r["ts"]), instance=r["instance"],
                                    reason=r["reason"], key=r["attempt_key"],
                                    handoff=r["handoff"])
                      for r in tx.all("failures_in_window", bundle_sha256=sha,
                                      window_seconds=window.window_seconds)]
            now = float(tx.one("db_now")["now"])  # type: ignore[index]
            common = {"bundle_sha256": sha, "tool": row["tool"], "lineage": row["lineage"],
                      "handoff": row["name"], "failures": len(recent),
                      "reason": reason[:500], "duration_s": duration_s}
            self._event(tx, self._line("repair_failed", **common))
            if len(recent) >= window.max_failures:
                reason_file = ReasonFile(
                    handoff=row["name"], rule=rule, bundle_sha256=sha, failures=recent,
                    quarantined_at=rfc3339(now), tool=row["tool"], lineage=row["lineage"],
                    reason=reason[:2000], instance=self.instance, last_attempt=last_attempt)
                tx.execute("quarantine", id=claim.id, reason=_jsonb(reason_file))
                self._event(tx, self._line("quarantined", **common))
                verdict = FailureVerdict(quarantine=True, failures=recent, not_before=now,
                                         rule=rule)
                return Result(applied=True, state="hard_fail", verdict=verdict)
            delay = self.config.backoff.delay(len(recent))
            deferred = tx.one("defer", id=claim.id, delay_seconds=delay)
            assert deferred is not None  # the row is held by this transaction
            verdict = FailureVerdict(quarantine=False, failures=recent,
                                     not_before=float(deferred["not_before"]), rule=rule)
            return Result(applied=True, state="deferred", verdict=verdict)
        return self._after(self.db.run(work), claim)

    def settle(self, claim: PgClaim, challenger: Challenger | None, line: MetricLine) -> Result:
        """The repair's result, committed together: the challenger (at most one per
        bundle and result: another instance's equal result makes this a duplicate
        pointing at it), the handoff's done state, and `line` (its `repaired` event,
        completed with the challenger's name and `duplicate`).

        With `challenger=None` the handoff is a duplicate of a bundle repaired before
        (SPEC §7) and points at the bundle's newest challenger; ValueError if the
        bundle has none (a bug of the caller)."""
        def work(tx: Tx) -> Result:
            row = tx.one("hold", id=claim.id, token=claim.token)
            if row is None:
                return self._fenced(tx, claim, "settle")
            if challenger is not None:
                created = parse_rfc3339(challenger.created_at)
                made = tx.one("insert_challenger", bundle_sha256=challenger.bundle_sha256,
                              repaired_sha256=challenger.repaired_sha256,
                              file_name=challenger_name(challenger.bundle_sha256, created),
                              body=_json.encode(challenger))
                existing = made or tx.one("find_challenger",
                                          bundle_sha256=challenger.bundle_sha256,
                                          repaired_sha256=challenger.repaired_sha256)
                duplicate = made is None
            else:
                existing = tx.one("find_challenger", bundle_sha256=row["bundle_sha256"],
                                  repaired_sha256=None)
                duplicate = True
            if existing is None:
                raise ValueError(f"no challenger for bundle {row['bundle_sha256']}")
            tx.execute("mark_done", id=claim.id, challenger_id=existing["id"],
                       duplicate=duplicate)
            final = msgspec.structs.replace(line, challenger=existing["file_name"],
                                            duplicate=duplicate)
            self._event(tx, final)
            return Result(applied=True, state="done", challenger=existing["file_name"],
                          duplicate=duplicate, line=final)
        return self._after(self.db.run(work), claim)

    def mark_corrupt(self, claim: PgClaim, error: HandoffInvalid) -> Result:
        """A held handoff that is not valid input goes to corrupt with its reason."""
        def work(tx: Tx) -> Result:
            row = tx.one("hold", id=claim.id, token=claim.token)
            if row is None:
                return self._fenced(tx, claim, "corrupt")
            reason = ReasonFile(handoff=row["name"], rule="not a valid repairlab.handoff/1",
                                reason=str(error), field=error.field, instance=self.instance,
                                corrupt_at=rfc3339(time.time()))
            tx.execute("mark_corrupt", id=claim.id, reason=_jsonb(reason))
            line = self._line("corrupt", handoff=row["name"], reason=str(error)[:500])
            self._event(tx, line)
            return Result(applied=True, state="corrupt", line=line)
        return self._after(self.db.run(work), claim)

    def _fenced(self, tx: Tx, claim: PgClaim, what: str) -> Result:
        before = tx.one("applied_before", id=claim.id, token=claim.token)
        if before is not None:  # this claim's own earlier commit: report it, do nothing
            return Result(applied=False, state=before["state"])
        self.log.bind(handoff=claim.name).info(
            "{} of {!r} refused: its lease lapsed or another instance holds it", what,
            claim.name)
        return Result(applied=False, state="lost")

    def _after(self, result: Result, claim: PgClaim) -> Result:
        if result.applied and result.line is not None:
            self._local(result.line)
        return result

    # -- operator ------------------------------------------------------------------------------

    def release(self, name: str) -> tuple[str, int] | None:
        """Move the quarantined handoff `name` back to the queue and forget its
        bundle's failures, in one transaction. Returns (bundle_sha256, failures
        cleared), or None when no quarantined handoff has that name."""
        def work(tx: Tx) -> tuple[str, int, MetricLine] | None:
            row = tx.one("quarantined_by_name", name=name)
            if row is None:
                return None
            tx.execute("release", id=row["id"])
            sha = row["bundle_sha256"] or hashlib.sha256(name.encode()).hexdigest()
            cleared = tx.execute("clear_failures", bundle_sha256=sha)
            line = self._line("released", handoff=name, bundle_sha256=sha)
            self._event(tx, line)
            tx.execute("wake", why="released")
            return sha, cleared, line
        done = self.db.run(work)
        if done is None:
            return None
        self._local(done[2])
        return done[0], done[1]

    def prune(self, ttl_seconds: float | None = None, batch: int = PRUNE_BATCH) -> dict[str, int]:
        """Delete what is older than the TTL, in batches of `batch` rows, each its
        own short transaction (a million old rows never hold a long lock).
        Returns how many of each kind went."""
        ttl = self.config.prune.ttl_seconds if ttl_seconds is None else ttl_seconds
        counts = {"handoffs": 0, "challengers": 0, "failures": 0}
        for kind, statement in (("handoffs", "prune_handoffs"),
                                ("challengers", "prune_challengers"),
                                ("failures", "prune_failures")):
            while True:
                gone = len(self.db.all(statement, ttl_seconds=ttl, batch=batch))
                counts[kind] += gone
                if gone < batch:
                    break
        if any(counts.values()):
            line = self._line("pruned", reason=", ".join(f"{k} {v}" for k, v in counts.items()))
            self.db.run(lambda tx: self._event(tx, line))
        return counts

    # -- reading ---------------------------------------------------------------------------------

    def counts(self) -> Counts:
        """Handoffs by state."""
        row = self.db.one("counts")
        assert row is not None
        return Counts(**{k: int(v) for k, v in row.items()})

    def next_due(self) -> float | None:
        """Seconds until a handoff becomes claimable (<= 0: now), None if none waits."""
        row = self.db.one("next_due")
        return None if row is None or row["wait"] is None else float(row["wait"])

    def events(self, after: int = 0, limit: int = 10000) -> Iterator[tuple[int, MetricLine]]:
        """Every event after id `after`, in id order, read in pages."""
        decoder = msgspec.json.Decoder(MetricLine)
        while True:
            rows = self.db.all("events_after", after=after, limit=limit)
            for row in rows:
                after = row["id"]
                yield row["id"], decoder.decode(_json.encode(row["line"]))
            if len(rows) < limit:
                return

    def challengers(self, after: int = 0, limit: int = 500) -> Iterator[tuple[int, str, bytes]]:
        """Every challenger after id `after` as (id, §3 file name, §3 JSON bytes)."""
        while True:
            rows = self.db.all("challengers_after", after=after, limit=limit)
            for row in rows:
                after = row["id"]
                yield row["id"], row["file_name"], bytes(row["body"])
            if len(rows) < limit:
                return

    # -- events ----------------------------------------------------------------------------------

    def _line(self, event: str, **fields: Any) -> MetricLine:
        return MetricLine(ts=rfc3339(time.time()), event=event, instance=self.instance,
                          meta_repair=False, **{k: v for k, v in fields.items() if v is not None})

    def _event(self, tx: Tx, line: MetricLine) -> None:
        tx.execute("insert_event", event=line.event, instance=line.instance,
                   line=Jsonb(msgspec.to_builtins(line)))

    def _local(self, line: MetricLine) -> None:
        if self.local_metrics is None:
            return
        try:
            self.local_metrics.append(line)
        except OSError as exc:
            self.log.warning("local metrics line {} not written ({}); the database has it",
                             line.event, exc)


def _claim(row: Row) -> PgClaim:
    return PgClaim(id=row["id"], name=row["name"], body=bytes(row["body"]),
                   token=str(row["claim_token"]), attempt=row["attempt"],
                   bundle_sha256=row["bundle_sha256"], tool=row["tool"],
                   lineage=row["lineage"], lease_expires=float(row["lease_expires"]))


def _jsonb(obj: msgspec.Struct) -> Jsonb:
    return Jsonb(msgspec.to_builtins(obj))

