"""Wake-ups: LISTEN/NOTIFY, with polling as the fallback.

A transaction that makes a handoff claimable (ingest, submit, hand back, release,
leases taken back) notifies `repairlab_wake` at its commit; an idle instance
waiting in `wait()` returns at once. Notifications are not durable (nobody
listening, a dropped connection, a database restart lose them), and a deferred
handoff becomes due with no notification at all, so `wait()` never waits longer
than `poll_seconds`, nor past the next due time it is told: a lost wake-up costs
at most one poll interval, never a stuck handoff.

The listening connection is this object's own (not the pool's). If it breaks,
`wait()` sleeps out its timeout instead (polling) and reconnects on a later call.
"""

from __future__ import annotations

import time

import psycopg
from loguru import logger

from repairlab.state.pg.connector import redact

CHANNEL = "repairlab_wake"


class WakeListener:
    """One connection that LISTENs; used by one thread."""

    def __init__(self, dsn: str, *, poll_seconds: float = 2.0, connect_timeout: int = 5) -> None:
        self.dsn = dsn
        self.poll_seconds = poll_seconds
        self.connect_timeout = connect_timeout
        self.conn: psycopg.Connection[tuple[object, ...]] | None = None
        self.retry_at = 0.0
        self.log = logger.bind(database=redact(dsn))

    def _connect(self) -> psycopg.Connection[tuple[object, ...]] | None:
        if self.conn is not None and not self.conn.closed:
            return self.conn
        if time.monotonic() < self.retry_at:
            return None
        try:
            conn = psycopg.connect(self.dsn, autocommit=True,
                                   connect_timeout=self.connect_timeout)
            conn.execute(f"LISTEN {CHANNEL}")
        except psycopg.OperationalError:
            self.retry_at = time.monotonic() + self.poll_seconds
            return None
        self.conn = conn
        return conn

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a wake-up, at most `timeout` (default and cap: `poll_seconds`).
        True when a notification came; False on a timeout or without a listening
        connection (then it has slept the time out: the caller polls)."""
        bound = self.poll_seconds if timeout is None else max(0.0, min(timeout,
                                                                       self.poll_seconds))
        conn = self._connect()
        if conn is None:
            time.sleep(bound)
            return False
        try:
            for _ in conn.notifies(timeout=bound, stop_after=1):
                return True
            return False
        except psycopg.OperationalError as exc:
            self.log.debug("wake-up connection lost ({}); polling until it is back", exc)
            self.close()
            self.retry_at = time.monotonic() + self.poll_seconds
            return False

    def close(self) -> None:
        """Stop listening (idempotent)."""
        if self.conn is not None:
            try:
                self.conn.close()
            except psycopg.Error:
                pass
            self.conn = None
