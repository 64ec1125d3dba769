"""The PostgreSQL backend against a real server (tests/pg_server.py): the schema and
its migrations, claims under SKIP LOCKED, fencing by claim token and lease, the
failure window decided in the database, ingest across a crash, and a database
restarted in the middle of work."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from config import Config
from conftest import FAILING, PASSING, spec_sha256, variant
from errors import DatabaseUnavailable, SchemaMismatch
from messages.records import Challenger, MetricLine, TestCounts, rfc3339

psycopg = pytest.importorskip("psycopg",
                              reason="psycopg is not installed (pip install -e '.[test]')")

from cli.submit import build_handoff  # noqa: E402
from state.pg import migrate as migrations  # noqa: E402
from state.pg.backend import PgClaim, PostgresBackend  # noqa: E402
from state.pg.connector import PgConnector, redact  # noqa: E402
from state.pg.listener import WakeListener  # noqa: E402
from state.pg.queries import queries  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def connect(pg_dsn: str) -> Iterator[Callable[..., PgConnector]]:
    """Opens connectors to the test's database, closed after the test."""
    opened: list[PgConnector] = []

    def make(dsn: str = pg_dsn, **kwargs: Any) -> PgConnector:
        connector = PgConnector(dsn, **kwargs).open()
        opened.append(connector)
        return connector
    yield make
    for connector in opened:
        connector.close()


@pytest.fixture
def backend_for(connect: Callable[..., PgConnector], make_config: Callable[..., Config]
                ) -> Callable[..., PostgresBackend]:
    """`backend_for("a", lease_seconds=...)`: an instance's backend on the test database."""
    def make(instance: str, *, config: Config | None = None, **kwargs: Any) -> PostgresBackend:
        return PostgresBackend(connect(**kwargs), config or make_config(), instance)
    return make


def handoff(files: dict[str, str] = PASSING) -> bytes:
    return build_handoff(files, "calc", "calc.py", "calc-line")


def challenger_for(claim: PgClaim, files: dict[str, str], instance: str) -> Challenger:
    sha = claim.bundle_sha256 or ""
    return Challenger(tool="calc", lineage="calc-line", handoff_id=None, bundle_sha256=sha,
                      repaired_sha256=spec_sha256(files), repair_strategy="noop",
                      repair_pattern_id=None, repair_attempts=0,
                      repair_details={"note": "already passing"}, files=files, diff="",
                      tests=TestCounts(passed=2, failed=0, duration_s=0.1), instance=instance,
                      created_at=rfc3339(time.time()), handoff_name=claim.name)


def repaired_line(claim: PgClaim, instance: str) -> MetricLine:
    return MetricLine(ts=rfc3339(time.time()), event="repaired", instance=instance,
                      meta_repair=True, bundle_sha256=claim.bundle_sha256, tool="calc",
                      lineage="calc-line", repair_strategy="noop", repair_attempts=0,
                      duration_s=0.1, handoff=claim.name)


def scalar(dsn: str, sql: str, *params: Any) -> Any:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(sql, params or None).fetchone()
        return None if row is None else row[0]


# -- the server and the schema -----------------------------------------------------------


def test_the_throwaway_server_runs_as_the_postgres_user_on_loopback(pg_server: Any) -> None:
    assert scalar(pg_server.dsn(), "SELECT current_setting('listen_addresses')") == "127.0.0.1"
    assert scalar(pg_server.dsn(), "SELECT current_setting('unix_socket_directories')") \
        == str(pg_server.sockets)
    assert scalar(pg_server.dsn(), "SELECT current_setting('server_version_num')::int") >= 150000
    if os.geteuid() == 0:
        assert os.stat(f"/proc/{pg_server.pid}").st_uid != 0  # PostgreSQL refuses root


def test_every_statement_of_queries_sql_is_named_once_and_prepares(pg_dsn: str) -> None:
    statements = queries()
    assert {"claim", "hold", "renew_claims", "take_back_lapsed", "insert_failure",
            "insert_challenger", "mark_done", "insert_event"} <= set(statements)
    with psycopg.connect(pg_dsn) as conn:
        for name, sql in statements.items():
            if name in ("create_schema_version", "lock_migrations"):
                continue
            # PREPARE checks every name, column and type without running anything.
            params = {p: None for p in _params(sql)}
            server_sql = sql.replace("%%", "%")
            for i, p in enumerate(params, 1):
                server_sql = server_sql.replace(f"%({p})s", f"${i}")
            conn.execute(f"PREPARE q_{name} AS {server_sql}")


def _params(sql: str) -> list[str]:
    import re
    return list(dict.fromkeys(re.findall(r"%\((\w+)\)s", sql)))


def test_migrate_creates_the_schema_once_and_a_second_run_changes_nothing(
        pg_database: Callable[..., str]) -> None:
    dsn = pg_database(migrated=False)
    with PgConnector(dsn) as connector:
        with pytest.raises(SchemaMismatch, match=r"run `run\.py migrate` first"):
            migrations.check(connector)
        applied = migrations.migrate(connector)
        assert [m.version for m in applied] == list(range(1, migrations.latest() + 1))
        assert migrations.migrate(connector) == []
        assert migrations.check(connector) == migrations.latest()
    assert scalar(dsn, "SELECT count(*) FROM schema_version") == migrations.latest()
    assert scalar(dsn, "SELECT count(*) FROM handoffs") == 0


def test_a_database_newer_than_the_code_is_refused_with_one_line(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("INSERT INTO schema_version (version, name) VALUES (999, 'future')")
    with PgConnector(pg_dsn) as connector, pytest.raises(SchemaMismatch) as refused:
        migrations.check(connector)
    assert "version 999" in str(refused.value) and "\n" not in str(refused.value)


def test_claiming_reads_only_the_partial_index_of_claimable_rows(pg_dsn: str) -> None:
    # 100,000 finished rows make the planner's choice plain; bench/pg_claims.py
    # measures the latency with a million.
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(
            "INSERT INTO handoffs (name, ingest_key, body, state) "
            "SELECT 'h' || g || '.json', 'k' || g, '\\x00', 'done' "
            "FROM generate_series(1, 100000) g")
        conn.execute("INSERT INTO handoffs (name, ingest_key, body) VALUES ('q.json', 'q', '')")
        conn.execute("ANALYZE handoffs")
        plan = "\n".join(r[0] for r in conn.execute(
            "EXPLAIN " + queries()["claim"].replace("%(limit)s", "1")
            .replace("%(instance)s", "'x'").replace("%(lease_seconds)s", "30")).fetchall())
    assert "handoffs_claimable" in plan, plan
    assert "Seq Scan" not in plan, plan


# -- claims, fencing -------------------------------------------------------------------------


def test_two_connections_claiming_at_once_never_take_the_same_handoff(
        backend_for: Callable[..., PostgresBackend]) -> None:
    a, b = backend_for("a"), backend_for("b")
    for n in range(60):
        a.submit(f"h{n}.json", handoff(variant(PASSING, n)))
    taken: dict[str, list[int]] = {"a": [], "b": []}
    start = threading.Barrier(2)

    def drain(backend: PostgresBackend) -> None:
        start.wait()
        while claims := backend.claim(1):
            taken[backend.instance] += [c.id for c in claims]
    threads = [threading.Thread(target=drain, args=(x,)) for x in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(taken["a"] + taken["b"]) == sorted(set(taken["a"] + taken["b"]))
    assert len(taken["a"]) + len(taken["b"]) == 60
    assert a.counts().claimed == 60


def test_a_claim_skips_a_row_another_transaction_holds_locked_without_waiting(
        pg_dsn: str, backend_for: Callable[..., PostgresBackend]) -> None:
    a = backend_for("a")
    first = a.submit("first.json", handoff(variant(PASSING, 1)))
    a.submit("second.json", handoff(variant(PASSING, 2)))
    with psycopg.connect(pg_dsn) as locker:
        locker.execute("SELECT id FROM handoffs WHERE id = %s FOR UPDATE", (first.id,))
        began = time.monotonic()
        claims = backend_for("b").claim(2)
        assert time.monotonic() - began < 2
        locker.rollback()
    assert [c.name for c in claims] == ["second.json"]


def test_a_late_settle_from_a_lapsed_lease_changes_nothing(
        pg_dsn: str, backend_for: Callable[..., PostgresBackend],
        make_config: Callable[..., Config]) -> None:
    config = make_config(instance={"lease_seconds": 0.5})
    a, b = backend_for("a", config=config), backend_for("b", config=config)
    a.submit("h.json", handoff())
    [held] = a.claim(1)
    time.sleep(0.7)  # the lease lapses by the database's clock
    assert a.renew([held]) == set()  # a lapsed lease is not renewed
    late = a.settle(held, challenger_for(held, PASSING, "a"), repaired_line(held, "a"))
    assert (late.applied, late.state) == (False, "lost")
    assert a.record_failure(held, "late failure").state == "lost"
    assert b.take_back_lapsed() == 1
    [again] = b.claim(1)
    assert again.id == held.id and again.token != held.token
    assert a.settle(held, challenger_for(held, PASSING, "a"), repaired_line(held, "a")).state \
        == "lost"
    settled = b.settle(again, challenger_for(again, PASSING, "b"), repaired_line(again, "b"))
    assert (settled.applied, settled.state, settled.duplicate) == (True, "done", False)
    assert scalar(pg_dsn, "SELECT count(*) FROM challengers") == 1
    assert scalar(pg_dsn, "SELECT count(*) FROM failures") == 0
    assert scalar(pg_dsn, "SELECT count(*) FROM events WHERE event = 'repaired'") == 1
    assert scalar(pg_dsn, "SELECT line->>'instance' FROM events WHERE event = 'repaired'") == "b"


def test_challenger_done_state_and_event_commit_together_and_a_redo_does_nothing_twice(
        pg_dsn: str, backend_for: Callable[..., PostgresBackend]) -> None:
    a = backend_for("a")
    a.submit("one.json", handoff())
    a.submit("two.json", handoff())  # same files, another name: a duplicate
    one, two = a.claim(2)
    first = a.settle(one, challenger_for(one, PASSING, "a"), repaired_line(one, "a"))
    redo = a.settle(one, challenger_for(one, PASSING, "a"), repaired_line(one, "a"))
    second = a.settle(two, challenger_for(two, PASSING, "a"), repaired_line(two, "a"))
    assert (first.applied, first.duplicate) == (True, False)
    assert (redo.applied, redo.state) == (False, "done")
    assert (second.applied, second.duplicate, second.challenger) == (True, True,
                                                                       first.challenger)
    assert scalar(pg_dsn, "SELECT count(*) FROM challengers") == 1
    assert scalar(pg_dsn, "SELECT count(*) FROM handoffs WHERE state = 'done' "
                          "AND challenger_id IS NOT NULL") == 2
    lines = [line for _, line in a.events()]
    assert [(x.event, x.duplicate, x.challenger) for x in lines] == [
        ("repaired", False, first.challenger), ("repaired", True, first.challenger)]


def test_a_settle_that_fails_midway_leaves_no_challenger_and_no_event(
        pg_dsn: str, backend_for: Callable[..., PostgresBackend]) -> None:
    a = backend_for("a")
    a.submit("h.json", handoff())
    [held] = a.claim(1)
    broken = repaired_line(held, "a")
    broken.event = None  # type: ignore[assignment]  # the event insert violates NOT NULL
    with pytest.raises(psycopg.errors.NotNullViolation):
        a.settle(held, challenger_for(held, PASSING, "a"), broken)
    assert scalar(pg_dsn, "SELECT count(*) FROM challengers") == 0
    assert scalar(pg_dsn, "SELECT state FROM handoffs") == "claimed"
    assert a.settle(held, challenger_for(held, PASSING, "a"), repaired_line(held, "a")).applied


# -- failures: window, backoff, quarantine ------------------------------------------------------


def test_failures_back_off_then_quarantine_by_the_window(
        pg_dsn: str, backend_for: Callable[..., PostgresBackend],
        make_config: Callable[..., Config]) -> None:
    config = make_config(failure_window={"max_failures": 3, "window_seconds": 600},
                         backoff={"base_seconds": 0.0, "max_seconds": 0.0})
    a = backend_for("a", config=config)
    a.submit("bad.json", handoff(FAILING))
    states = []
    for _ in range(3):
        [held] = a.claim(1)
        result = a.record_failure(held, "tests failed")
        assert a.record_failure(held, "tests failed").applied is False  # a redo counts once
        states.append((result.state, len(result.verdict.failures)))  # type: ignore[union-attr]
    assert states == [("deferred", 1), ("deferred", 2), ("hard_fail", 3)]
    reason = scalar(pg_dsn, "SELECT reason FROM handoffs")
    assert reason["bundle_sha256"] == spec_sha256(FAILING)
    assert len(reason["failures"]) == 3 and reason["quarantined_at"]
    assert a.claim(1) == []
    assert a.release("bad.json") == (spec_sha256(FAILING), 3)
    assert scalar(pg_dsn, "SELECT count(*) FROM failures") == 0
    assert [c.name for c in a.claim(1)] == ["bad.json"]


def test_the_backoff_is_counted_on_the_database_clock(
        backend_for: Callable[..., PostgresBackend], make_config: Callable[..., Config]) -> None:
    config = make_config(backoff={"base_seconds": 30, "max_seconds": 600})
    a = backend_for("a", config=config)
    a.submit("bad.json", handoff(FAILING))
    [held] = a.claim(1)
    verdict = a.record_failure(held, "tests failed").verdict
    assert verdict is not None
    waited = a.next_due()
    assert waited is not None and 29 < waited <= 30
    assert a.claim(1) == []


def test_two_instances_failing_one_bundle_at_once_decide_once_and_the_same_way(
        pg_dsn: str, backend_for: Callable[..., PostgresBackend],
        make_config: Callable[..., Config]) -> None:
    config = make_config(failure_window={"max_failures": 2, "window_seconds": 600},
                         backoff={"base_seconds": 600, "max_seconds": 600})
    a, b = backend_for("a", config=config), backend_for("b", config=config)
    for round_ in range(5):
        files = variant(FAILING, round_)
        a.submit(f"r{round_}-a.json", handoff(files))
        b.submit(f"r{round_}-b.json", handoff(files))
        [held_a], [held_b] = a.claim(1), b.claim(1)
        barrier = threading.Barrier(2)
        results: dict[str, str] = {}
        threads = [threading.Thread(target=_fail_together, args=(*x, barrier, results))
                   for x in ((a, held_a), (b, held_b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(results.values()) == ["deferred", "hard_fail"], round_
    assert scalar(pg_dsn, "SELECT count(*) FROM events WHERE event = 'quarantined'") == 5
    assert scalar(pg_dsn, "SELECT count(*) FROM failures") == 10


def _fail_together(backend: PostgresBackend, claim: PgClaim, barrier: threading.Barrier,
                   results: dict[str, str]) -> None:
    barrier.wait()
    results[backend.instance] = backend.record_failure(claim, "tests failed").state


# -- ingest ------------------------------------------------------------------------------------


INGEST_THEN_DIE = """
import os, signal, sys
sys.path.insert(0, {repo!r})
from config import load_config
from state.pg.backend import PostgresBackend
import state.pg.backend as backend_module
from state.pg.connector import PgConnector
backend_module.os.unlink = lambda path: os.kill(os.getpid(), signal.SIGKILL)
with PgConnector({dsn!r}) as connector:
    PostgresBackend(connector, load_config(None), "crasher").ingest_file(
        __import__("pathlib").Path({path!r}))
"""


def test_an_ingest_redone_after_a_crash_between_commit_and_unlink_makes_one_handoff(
        tmp_path: Path, pg_dsn: str, backend_for: Callable[..., PostgresBackend]) -> None:
    queued = tmp_path / "queue" / "h.json"
    queued.parent.mkdir()
    queued.write_bytes(handoff())
    child = subprocess.run([sys.executable, "-c", INGEST_THEN_DIE.format(
        repo=str(REPO), dsn=pg_dsn, path=str(queued))], capture_output=True, text=True,
        timeout=60, cwd=tmp_path)
    assert child.returncode == -9, child.stderr  # killed after the commit, before the unlink
    assert queued.exists()
    assert scalar(pg_dsn, "SELECT count(*) FROM handoffs") == 1
    redone = backend_for("a").ingest_file(queued)
    assert redone is not None and redone.created is False
    assert not queued.exists()
    assert scalar(pg_dsn, "SELECT count(*) FROM handoffs") == 1


def test_an_invalid_handoff_is_recorded_as_corrupt_with_its_reason(
        tmp_path: Path, pg_dsn: str, backend_for: Callable[..., PostgresBackend]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"schema": "repairlab.handoff/1", "tool": "x"')
    ingested = backend_for("a").ingest_file(bad)
    assert ingested is not None and ingested.state == "corrupt" and not bad.exists()
    assert scalar(pg_dsn, "SELECT reason->>'handoff' FROM handoffs") == "bad.json"
    assert scalar(pg_dsn, "SELECT count(*) FROM events WHERE event = 'corrupt'") == 1


# -- the database going away ---------------------------------------------------------------------


def test_the_database_restarted_mid_work_loses_nothing_and_doubles_nothing(
        pg_server: Any, pg_dsn: str, backend_for: Callable[..., PostgresBackend]) -> None:
    from loguru import logger
    said: list[str] = []
    sink = logger.add(lambda m: said.append(str(m)), level="INFO", format="{message}")
    try:
        a = backend_for("a", backoff_base=0.2, backoff_max=1.0, timeout=2.0)
        for n in range(6):
            a.submit(f"h{n}.json", handoff(variant(PASSING, n)))
        held = a.claim(3)
        pg_server.restart("immediate")  # a crash: every connection is cut
        outcomes = []
        deadline = time.monotonic() + 60
        for claim in held:
            while True:
                try:
                    outcomes.append(a.settle(claim, challenger_for(claim, PASSING, "a"),
                                             repaired_line(claim, "a")))
                    break
                except DatabaseUnavailable:
                    assert time.monotonic() < deadline
                    time.sleep(0.1)
        rest = []
        while len(rest) < 3:
            rest += a.claim(3)
        for claim in rest:
            a.settle(claim, challenger_for(claim, PASSING, "a"), repaired_line(claim, "a"))
    finally:
        logger.remove(sink)
    assert all(o.applied for o in outcomes)
    assert scalar(pg_dsn, "SELECT count(*) FROM handoffs WHERE state = 'done'") == 6
    assert scalar(pg_dsn, "SELECT count(*) FROM challengers") == 6
    assert scalar(pg_dsn, "SELECT count(*) FROM events WHERE event = 'repaired'") == 6
    assert a.db.health().ok
    down = [m for m in said if "database unreachable" in m]
    back = [m for m in said if "database reachable again" in m]
    assert len(down) <= 1 and len(back) == len(down)


def test_while_the_database_is_down_calls_fail_fast_and_health_says_since_when(
        pg_server: Any, pg_dsn: str, backend_for: Callable[..., PostgresBackend]) -> None:
    a = backend_for("a", backoff_base=5.0, timeout=1.0)
    a.submit("h.json", handoff())
    pg_server.stop("fast")
    try:
        with pytest.raises(DatabaseUnavailable):
            a.claim(1)
        began = time.monotonic()
        with pytest.raises(DatabaseUnavailable, match="unreachable since"):
            a.claim(1)  # within the back-off: refused without touching the network
        assert time.monotonic() - began < 0.5
        health = a.db.health()
        assert not health.ok and health.line().startswith("unreachable since ")
    finally:
        pg_server._pg_ctl_start()
    assert scalar(pg_dsn, "SELECT count(*) FROM handoffs WHERE state = 'queued'") == 1


def test_the_password_of_the_dsn_is_never_shown(pg_server: Any) -> None:
    dsn = f"host=127.0.0.1 port={pg_server.port} user=postgres password=hunter2 dbname=nope"
    shown = redact(dsn)
    assert "hunter2" not in shown and "password=***" in shown
    with PgConnector(dsn, timeout=2.0) as connector, \
            pytest.raises(DatabaseUnavailable) as refused:
        connector.one("ping")
    assert "hunter2" not in str(refused.value)
    assert "hunter2" not in connector.health().line()


# -- wake-ups --------------------------------------------------------------------------------------


def test_an_idle_listener_wakes_at_once_on_a_submit_and_polls_without_one(
        pg_dsn: str, backend_for: Callable[..., PostgresBackend]) -> None:
    listener = WakeListener(pg_dsn, poll_seconds=0.3)
    try:
        assert listener.wait(0.1) is False  # nothing: the poll bound
        threading.Timer(0.2, lambda: backend_for("a").submit("h.json", handoff())).start()
        began = time.monotonic()
        assert listener.wait(5.0) is True or listener.wait(5.0) is True
        assert time.monotonic() - began < 3
    finally:
        listener.close()


def test_pruning_deletes_old_finished_handoffs_in_batches(
        pg_dsn: str, backend_for: Callable[..., PostgresBackend]) -> None:
    a = backend_for("a")
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(
            "INSERT INTO handoffs (name, ingest_key, body, state, state_since) "
            "SELECT 'h' || g || '.json', 'k' || g, '\\x00', 'done', now() - interval '8 days' "
            "FROM generate_series(1, 2500) g")
    a.submit("fresh.json", handoff())
    assert a.prune(batch=1000) == {"handoffs": 2500, "challengers": 0, "failures": 0}
    assert scalar(pg_dsn, "SELECT count(*) FROM handoffs") == 1
