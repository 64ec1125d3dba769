"""The connection to PostgreSQL: a pool, statements by name, and the database's
health as this instance sees it.

procrastinate's connector is the model: a few methods (`one`, `all`, `execute`,
and `transaction()` for several statements in one transaction), every statement
named in queries.sql.

The database going away (a restart, a failover, a dropped connection) surfaces as
`BackendUnavailable`, never as a driver exception. The connector then says so
once in the log, and for a back-off (doubling from `backoff_base` up to
`backoff_max` seconds) refuses further calls at once, without touching the
network, so that a claim loop stops claiming instead of hammering a dead server;
past the back-off the next call tries again, and the first that succeeds says so
once. `health()` is what `status` shows: "database: ok" or "unreachable since T".
A statement interrupted by the loss of its connection may or may not have
committed: every transition of the backend is fenced and idempotent, so the
caller simply repeats it once the database is back.

The password of the DSN is never logged: every log line and error shows
`redact(dsn)`.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import msgspec
import psycopg
import psycopg.errors
from loguru import logger
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from repairlab.config.loader import masked_dsn
from repairlab.messages.records import rfc3339
from repairlab.state.backend import BackendUnavailable
from repairlab.state.pg.queries import query

T = TypeVar("T")
PING_AFTER_SECONDS = 2.0  # a pooled connection idle this long is pinged before use
Row = dict[str, Any]
# Conflicts PostgreSQL resolves by aborting one side: the transaction is simply redone.
RETRYABLE = (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected)


def redact(dsn: str) -> str:
    """The DSN as written, with its password (if any) replaced by `***`, for logs,
    errors and `status` (`config.loader.masked_dsn`: key=value and URL forms)."""
    return masked_dsn(dsn)


class Health(msgspec.Struct, frozen=True, kw_only=True):
    """The database as this instance last saw it."""

    ok: bool
    since: float | None = None  # when it became unreachable (POSIX time)
    error: str = ""

    def line(self) -> str:
        """`ok`, or `unreachable since <RFC 3339> (<error>)`."""
        if self.ok:
            return "ok"
        since = rfc3339(self.since) if self.since is not None else "?"
        return f"unreachable since {since} ({self.error})"


class Tx:
    """Statements within one open transaction (see `PgConnector.transaction`)."""

    def __init__(self, conn: psycopg.Connection[Row]) -> None:
        self.conn = conn

    def execute(self, statement: str, /, **params: Any) -> int:
        """Run `statement`; returns the number of rows it touched."""
        cur = self.conn.execute(query(statement), params or None)
        return cur.rowcount

    def one(self, statement: str, /, **params: Any) -> Row | None:
        """The first row of `statement`, or None."""
        return self.conn.execute(query(statement), params or None).fetchone()

    def all(self, statement: str, /, **params: Any) -> list[Row]:
        """Every row of `statement`."""
        return self.conn.execute(query(statement), params or None).fetchall()


class PgConnector:
    """A pool of connections to one database, with the health bookkeeping above."""

    def __init__(self, dsn: str, *, min_size: int = 1, max_size: int = 4,
                 timeout: float = 5.0, backoff_base: float = 0.5, backoff_max: float = 30.0,
                 name: str = "repairlab") -> None:
        self.dsn = dsn
        self.shown = redact(dsn)
        self.timeout = timeout
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.pool: ConnectionPool[psycopg.Connection[Row]] = ConnectionPool(
            dsn, min_size=min_size, max_size=max_size, open=False, name=name,
            timeout=timeout, reconnect_timeout=timeout,
            kwargs={"autocommit": True, "row_factory": dict_row,
                    "connect_timeout": max(1, int(timeout))},
            check=self._check)
        # When each pooled connection last carried a statement that worked (`_check`).
        self._rested: weakref.WeakKeyDictionary[psycopg.Connection[Row], float] = (
            weakref.WeakKeyDictionary())
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._error = ""
        self._delay = 0.0
        self._next_try = 0.0
        self._back_at: float | None = None  # monotonic: when it was last seen back
        self.log = logger.bind(database=self.shown)

    # -- life ------------------------------------------------------------------------------

    def open(self) -> PgConnector:
        """Start the pool without waiting: a database that is down now is found out
        (and reported once) by the first call, not here."""
        self.pool.open(wait=False)
        return self

    def close(self) -> None:
        """Close every connection (idempotent)."""
        self.pool.close(timeout=self.timeout)

    def __enter__(self) -> PgConnector:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- statements --------------------------------------------------------------------------

    @contextmanager
    def transaction(self, *, atomic: bool = True) -> Iterator[Tx]:
        """One transaction: committed when the block ends, rolled back when it
        raises. Loss of the database raises BackendUnavailable (see module doc).
        `atomic=False` is for a single statement, which is a transaction of its
        own on the autocommit connection: no BEGIN and COMMIT round trips."""
        self._gate()
        started = time.monotonic()
        try:
            with self.pool.connection(timeout=self.timeout) as conn:
                if atomic:
                    with conn.transaction():
                        yield Tx(conn)
                else:
                    yield Tx(conn)
                self._rested[conn] = time.monotonic()  # it worked just now (`_check`)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            if isinstance(exc, RETRYABLE):
                raise
            reason = self._why(exc)
            self._went_down(reason, started)
            raise BackendUnavailable(f"database {self.shown} unreachable: {reason}") from None
        self._came_back()

    def run(self, work: Callable[[Tx], T], *, attempts: int = 5, atomic: bool = True) -> T:
        """`work(tx)` in one transaction, redone (with a fresh transaction) when
        PostgreSQL aborted it for a serialization conflict or a deadlock."""
        for attempt in range(attempts):
            try:
                with self.transaction(atomic=atomic) as tx:
                    return work(tx)
            except RETRYABLE:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    def one(self, statement: str, /, **params: Any) -> Row | None:
        """`statement` in a transaction of its own; its first row or None."""
        return self.run(lambda tx: tx.one(statement, **params), atomic=False)

    def all(self, statement: str, /, **params: Any) -> list[Row]:
        """`statement` in a transaction of its own; every row."""
        return self.run(lambda tx: tx.all(statement, **params), atomic=False)

    def execute(self, statement: str, /, **params: Any) -> int:
        """`statement` in a transaction of its own; rows touched."""
        return self.run(lambda tx: tx.execute(statement, **params), atomic=False)

    # -- the pool's checks -----------------------------------------------------------------------

    def _check(self, conn: psycopg.Connection[Row]) -> None:
        """The pool's `check` when it hands a connection out. A connection given
        back moments ago by a statement that succeeded is as good as that statement
        said; one that rested longer (a restart or failover may have dropped it
        meanwhile) is pinged first, so that a call after a quiet spell does not
        fail on a dead connection the pool could have replaced."""
        if conn.closed or conn.broken:
            raise psycopg.OperationalError("the connection is closed")
        rested = self._rested.get(conn)
        if rested is None or time.monotonic() - rested > PING_AFTER_SECONDS:
            ConnectionPool.check_connection(conn)

    # -- health --------------------------------------------------------------------------------

    def health(self) -> Health:
        """The database as last seen: ok, or unreachable since when and why."""
        with self._lock:
            if self._down_since is None:
                return Health(ok=True)
            return Health(ok=False, since=self._down_since, error=self._error)

    def available(self) -> bool:
        """Whether a call now would be tried (not within a back-off)."""
        with self._lock:
            return self._down_since is None or time.monotonic() >= self._next_try

    def _gate(self) -> None:
        with self._lock:
            if self._down_since is not None and time.monotonic() < self._next_try:
                raise BackendUnavailable(
                    f"database {self.shown} unreachable since {rfc3339(self._down_since)}; "
                    f"next try in {self._next_try - time.monotonic():.1f}s")

    def _why(self, exc: BaseException) -> str:
        """The reason in one line. A pool timeout says only that no connection came:
        one direct attempt tells why (refused, unknown host, authentication)."""
        if isinstance(exc, PoolTimeout):
            try:
                psycopg.connect(self.dsn, connect_timeout=max(1, int(min(self.timeout, 3)))
                                ).close()
            except psycopg.Error as direct:
                return _first_line(direct)
        return _first_line(exc)

    def _went_down(self, reason: str, started: float | None = None) -> None:
        """A call failed for the database's sake. A call that began before the
        database was last seen back (`started`, monotonic) belongs to the outage
        that is over: it is not a new one (no second "unreachable" line, no
        back-off for the calls that now succeed)."""
        with self._lock:
            if (started is not None and self._down_since is None
                    and self._back_at is not None and started < self._back_at):
                return
            first = self._down_since is None
            if first:
                self._down_since = time.time()
                self._delay = self.backoff_base
            else:
                self._delay = min(self.backoff_max, self._delay * 2)
            self._error = reason
            self._next_try = time.monotonic() + self._delay
        if first:
            self.log.warning("database unreachable ({}): holding what is held, not claiming, "
                             "retrying with back-off", self._error)

    def _came_back(self) -> None:
        with self._lock:
            since = self._down_since
            if since is None:
                return
            self._down_since = None
            self._back_at = time.monotonic()
            self._error = ""
        self.log.info("database reachable again after {:.1f}s", time.time() - since)


class _ToLoguru(logging.Handler):
    """psycopg_pool's own log (a warning for every failed reconnection attempt)
    goes to loguru at DEBUG: the connector says once, at WARNING, what matters."""

    def emit(self, record: logging.LogRecord) -> None:
        logger.bind(database="pool").debug("{}: {}", record.name, record.getMessage())


_pool_log = logging.getLogger("psycopg.pool")
_pool_log.addHandler(_ToLoguru())
_pool_log.propagate = False


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]
