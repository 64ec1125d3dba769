"""The PostgreSQL backend against a real server (tests/pg_server.py): the schema and
its migrations, claims under SKIP LOCKED, fencing by claim token and lease, the
failure window decided in the database, ingest across a crash, and a database
restarted in the middle of work."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from conftest import FAILING, PASSING, spec_sha256, variant
from repairlab.config import Config
from repairlab.errors import SchemaMismatch
from repairlab.messages.records import Challenger, FailureRecord, MetricLine, TestCounts, rfc3339

psycopg = pytest.importorskip("psycopg",
                              reason="psycopg is not installed (pip install -e '.[test]')")

from repairlab.cli.submit import build_handoff  # noqa: E402
from repairlab.state.backend import (  # noqa: E402
    BackendUnavailable,
    Claim,
    Corrupt,
    Failure,
    Finish,
    Vanished,
)
from repairlab.state.pg import migrate as migrations  # noqa: E402
from repairlab.state.pg.backend import PostgresBackend  # noqa: E402
from repairlab.state.pg.connector import PgConnector, redact  # noqa: E402
from repairlab.state.pg.listener import WakeListener  # noqa: E402
from repairlab.state.pg.queries import queries  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def backend_for(pg_dsn: str, make_config: Callable[..., Config]
                ) -> Iterator[Callable[..., PostgresBackend]]:
    """`backend_for("a", config=..., **connector options)`: instance a's backend on
    the test's database; closed after the test."""
    made: list[PostgresBackend] = []

    def make(instance: str, *, config: Config | None = None, **kwargs: Any) -> PostgresBackend:
        config = config or make_config()
        config = msgspec.structs.replace(config, backend=msgspec.structs.replace(
            config.backend, kind="postgres", dsn=pg_dsn))
        backend = PostgresBackend(config, instance, connector=PgConnector(pg_dsn, **kwargs).open())
        made.append(backend)
        return backend
    yield make
    for backend in made:
        backend.close()


def handoff(files: dict[str, str] = PASSING) -> bytes:
    return build_handoff(files, "calc", "calc.py", "calc-line")


def claim(backend: PostgresBackend) -> Claim:
    got = backend.claim_next()
    assert got is not None
    return got


def challenger_of(backend: PostgresBackend, held: Claim, files: dict[str, str]) -> Challenger:
    return Challenger(tool="calc", lineage="calc-line", handoff_id=None,
                      bundle_sha256=spec_sha256(files), repaired_sha256=spec_sha256(files),
                      repair_strategy="noop", repair_pattern_id=None, repair_attempts=0,
                      repair_details={"note": "already passing"}, files=files, diff="",
                      tests=TestCounts(passed=2, failed=0, duration_s=0.1),
                      instance=backend.instance, created_at=rfc3339(time.time()),
                      handoff_name=held.name)


def finish(backend: PostgresBackend, held: Claim, files: dict[str, str] = PASSING) -> Finish:
    line = MetricLine(ts=rfc3339(time.time()), event="repaired", instance=backend.instance,
                      meta_repair=True, bundle_sha256=spec_sha256(files), tool="calc",
                      lineage="calc-line", repair_strategy="noop", repair_attempts=0,
                      duration_s=0.1, handoff=held.name)
    return Finish(claim=held, line=line, challenger=challenger_of(backend, held, files))


def settle(backend: PostgresBackend, held: Claim, files: dict[str, str] = PASSING) -> Any:
    [settled] = backend.settle([finish(backend, held, files)])
    return settled


def failure(backend: PostgresBackend, held: Claim, files: dict[str, str] = FAILING) -> Failure:
    key = backend.open(held, 1 << 20).key
    record = FailureRecord(ts=rfc3339(time.time()), instance=backend.instance,
                           reason="tests failed", key=key, handoff=held.name)
    line = MetricLine(ts=rfc3339(time.time()), event="repair_failed",
                      instance=backend.instance, meta_repair=False,
                      bundle_sha256=spec_sha256(files), tool="calc", handoff=held.name)
    return Failure(claim=held, bundle_sha256=spec_sha256(files), record=record, line=line,
                   tool="calc", lineage="calc-line", last_test_output="1 failed")


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
    code = "".join(p.read_text() for p in (REPO / "state" / "pg").glob("*.py"))
    unused = [name for name in statements if f'"{name}"' not in code]
    assert unused == [], f"statements no code names: {unused}"
    with psycopg.connect(pg_dsn) as conn:
        for name, sql in statements.items():
            if name in ("create_schema_version", "lock_migrations", "relaxed_commit"):
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


def test_two_hosts_migrating_at_once_apply_each_migration_once(
        pg_database: Callable[..., str]) -> None:
    dsn = pg_database(migrated=False)
    applied: list[int] = []
    barrier = threading.Barrier(2)

    def host() -> None:
        with PgConnector(dsn) as connector:
            barrier.wait()
            applied.extend(m.version for m in migrations.migrate(connector))
    threads = [threading.Thread(target=host) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(applied) == list(range(1, migrations.latest() + 1))
    assert scalar(dsn, "SELECT count(*) FROM schema_version") == migrations.latest()


def _run_py(tmp_path: Path, *argv: str, dsn: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "r.toml"
    config.write_text(f'[paths]\nroot = "{tmp_path / "state"}"\n[backend]\nkind = "postgres"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPAIRLAB_")}
    env["REPAIRLAB_DSN"] = dsn
    return subprocess.run([sys.executable, str(REPO / "run.py"), *argv, "--config", str(config)],
                          capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path,
                          stdin=subprocess.DEVNULL)


def test_run_py_migrate_creates_then_finds_the_schema_up_to_date(
        tmp_path: Path, pg_database: Callable[..., str]) -> None:
    dsn = pg_database(migrated=False) + " password=hunter2"
    first = _run_py(tmp_path, "migrate", dsn=dsn)
    assert first.returncode == 0, first.stderr
    assert "applied 0001_initial" in first.stdout
    second = _run_py(tmp_path, "migrate", dsn=dsn)
    assert second.returncode == 0 and "up to date" in second.stdout
    assert "hunter2" not in first.stdout + first.stderr + second.stdout + second.stderr
    assert scalar(dsn, "SELECT max(version) FROM schema_version") == migrations.latest()


def test_run_py_migrate_says_so_in_one_line_when_the_database_is_unreachable(
        tmp_path: Path) -> None:
    from pg_server import free_port
    dsn = f"host=127.0.0.1 port={free_port()} user=postgres password=hunter2 connect_timeout=2"
    done = _run_py(tmp_path, "migrate", dsn=dsn)
    assert done.returncode == 1
    assert done.stderr.startswith("run.py migrate: database ") and "unreachable" in done.stderr
    assert "hunter2" not in done.stderr + done.stdout


def test_the_backend_refuses_to_run_on_a_schema_it_does_not_know(
        pg_database: Callable[..., str], make_config: Callable[..., Config]) -> None:
    dsn = pg_database(migrated=False)
    config = make_config(backend={"kind": "postgres", "dsn": dsn})
    backend = PostgresBackend(config, "a")
    try:
        assert backend.check() == ("the database has no repairlab schema: run `run.py migrate` "
                                   "first")
        migrations.migrate(backend.db)
        assert backend.check() is None
    finally:
        backend.close()


def test_a_database_newer_than_the_code_is_refused_with_one_line(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("INSERT INTO schema_version (version, name) VALUES (999, 'future')")
    with PgConnector(pg_dsn) as connector, pytest.raises(SchemaMismatch) as refused:
        migrations.check(connector)
    assert "version 999" in str(refused.value) and "\n" not in str(refused.value)


def test_claiming_and_the_rescans_count_read_only_the_partial_indexes(pg_dsn: str) -> None:
    # 100,000 finished rows make the planner's choice plain; bench/pg_claims.py
    # measures the claim's latency with a million.
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(
            "INSERT INTO handoffs (name, ingest_key, body, state) "
            "SELECT 'h' || g || '.json', 'k' || g, '\\x00', 'done' "
            "FROM generate_series(1, 100000) g")
        conn.execute("INSERT INTO handoffs (name, ingest_key, body) VALUES ('q.json', 'q', '')")
        conn.execute("ANALYZE handoffs")

        def plan(name: str) -> str:
            sql = (queries()[name].replace("%(limit)s", "1").replace("%(instance)s", "'x'")
                   .replace("%(lease_seconds)s", "30"))
            return "\n".join(r[0] for r in conn.execute("EXPLAIN " + sql).fetchall())

        claim, due, busy = plan("claim"), plan("due"), plan("busy")
    assert "handoffs_claimable" in claim and "Seq Scan" not in claim, claim
    # What the watcher asks at every rescan, and `idle`: never the finished rows.
    assert "handoffs_claimable" in due and "Seq Scan" not in due, due
    assert busy.count("Index") >= 2 and "Seq Scan" not in busy, busy


def test_the_plan_the_server_caches_for_the_claim_reads_the_claimable_index_under_a_backlog(
        pg_dsn: str) -> None:
    # psycopg prepares a statement run five times on a connection, and the server
    # may then keep one generic plan for it, made without the parameters' values:
    # that plan must claim from the index too, with 20,000 handoffs waiting.
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO handoffs (name, ingest_key, body, state) "
            "SELECT 'h' || g || '.json', 'k' || g, '\\x00', "
            "CASE WHEN g <= 20000 THEN 'queued' ELSE 'done' END "
            "FROM generate_series(1, 120000) g")
        conn.execute("ANALYZE handoffs")
        conn.execute("SET plan_cache_mode = force_generic_plan")
        sql = queries()["claim"].replace("%(instance)s", "$1").replace("%(lease_seconds)s", "$2")
        assert "%(" not in sql, sql
        conn.execute(f"PREPARE claim_generic (text, float8) AS {sql}")
        plan = "\n".join(r[0] for r in conn.execute(
            "EXPLAIN EXECUTE claim_generic ('x', 30)").fetchall())
    assert "handoffs_claimable" in plan and "Seq Scan" not in plan, plan


# -- claims, fencing -------------------------------------------------------------------------


def test_two_connections_claiming_at_once_never_take_the_same_handoff(
        pg_dsn: str, backend_for: Callable[..., PostgresBackend]) -> None:
    a, b = backend_for("a"), backend_for("b")
    for n in range(60):
        a.submit(f"h{n}.json", handoff(variant(PASSING, n)))
    taken: dict[str, list[str]] = {"a": [], "b": []}
    start = threading.Barrier(2)

    def drain(backend: PostgresBackend) -> None:
        start.wait()
        while (got := backend.claim_next()) is not None:
            taken[backend.instance].append(got.ref)
    threads = [threading.Thread(target=drain, args=(x,)) for x in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    rows = [ref.split(":")[1] for ref in taken["a"] + taken["b"]]
    assert len(rows) == len(set(rows)) == 60
    assert taken["a"] and taken["b"]
    assert scalar(pg_dsn, "SELECT count(*) FROM handoffs WHERE state = 'claimed'") == 60


def test_a_claim_skips_a_row_another_transaction_holds_locked_without_waiting(
        pg_dsn: str, backend_for: Callable[..., PostgresBackend]) -> None:
    a = backend_for("a")
    a.submit("first.json", handoff(variant(PASSING, 1)))
    a.submit("second.json", handoff(variant(PASSING, 2)))
    with psycopg.connect(pg_dsn) as locker:
        locker.execute("SELECT id FROM handoffs WHERE name = 'first.json' FOR UPDATE")
        began = time.monotonic()
        got = backend_for("b").claim_next()
        assert time.monotonic() - began < 2
        locker.rollback()
    assert got is not None and got.name == "second.json"


def test_a_late_settle_from_a_lapsed_lease_changes_nothing(
        pg_dsn: str, backend_for: Callable[..., PostgresBackend],
        make_config: Callable[..., Config]) -> None:
    config = make_config(instance={"lease_seconds": 0.5})
    a, b = backend_for("a", config=config), backend_for("b", config=config)
    a.submit("h.json", handoff())
    held = claim(a)
    time.sleep(0.7)  # the lease lapses by the database's clock
    a.renew()  # a lapsed lease is not renewed
    late = settle(a, held)
    assert late.vanished and late.line is None
    with pytest.raises(Vanished):
        a.fail(failure(a, held))
    assert b.recover_stale(lambda line: None) == 1
    again = claim(b)
    assert again.name == held.name and again.ref != held.ref
    assert settle(a, held).vanished
    settled = settle(b, again)
    assert not settled.vanished and settled.line.duplicate is False
    assert scalar(pg_dsn, "SELECT count(*) FROM challengers") == 1
    assert scalar(pg_dsn, "SELECT count(*) FROM failures") == 0
    assert scalar(pg_dsn, "SELECT count(*) FROM events WHERE event = 'repaired'") == 1
    assert scalar(pg_dsn, "SELECT line->>'instance' FROM events WHERE event = 'repaired'") == "b"


def test_a_lease_renewed_by_the_heartbeat_outlives_its_first_term(
        backend_for: Callable[..., PostgresBackend], make_config: Callable[..., Config]) -> None:
    config = make_config(instance={"lease_seconds": 0.6})
    a, b = backend_for("a", config=config), backend_for("b", config=config)
    a.submit("h.json", handoff())
    held = claim(a)
    for _ in range(4):
        time.sleep(0.3)
        a.renew()
    assert b.recover_stale(lambda line: None) == 0
    assert not settle(a, held).vanished


def test_challenger_done_state_and_event_commit_together_and_a_redo_does_nothing_twice(
        pg_dsn: str, backend_for: Callable[..., PostgresBackend]) -> None:
    a = backend_for("a")
    a.submit("one.json", handoff())
    a.submit("two.json", handoff())  # same files, another name: a duplicate
    one, two = claim(a), claim(a)
    first = settle(a, one)
    redo = settle(a, one)  # as after a commit whose acknowledgement was lost
    second = settle(a, two)
    assert first.line.duplicate is False and not first.vanished
    assert redo.vanished  # fenced: the claim settled already, nothing is done twice
    assert second.line.duplicate is True and second.line.challenger == first.line.challenger
    assert scalar(pg_dsn, "SELECT count(*) FROM challengers") == 1
    assert scalar(pg_dsn, "SELECT count(*) FROM handoffs WHERE state = 'done' "
                          "AND challenger_id IS NOT NULL") == 2
    lines = [line for batch in a.event_batches() for line in batch]
    assert [(x.event, x.duplicate, x.challenger) for x in lines] == [
        ("repaired", False, first.line.challenger), ("repaired", True, first.line.challenger)]
    before = a.repaired_before(spec_sha256(PASSING))
    assert before is not None and before.name == first.line.challenger
    [(name, body)] = list(a.challengers())
    assert name == first.line.challenger and b'"schema":"repairlab.challenger/1"' in body


def test_a_settle_that_fails_midway_leaves_no_challenger_and_no_event_and_others_settle(
        pg_dsn: str, backend_for: Callable[..., PostgresBackend]) -> None:
    a = backend_for("a")
    a.submit("h.json", handoff())
    a.submit("other.json", handoff(variant(PASSING, 1)))
    held, other = claim(a), claim(a)
    broken = finish(a, held)
    broken.line.event = None  # type: ignore[assignment]  # the event insert violates NOT NULL
    failed, fine = a.settle([broken, finish(a, other, variant(PASSING, 1))])
    assert failed.error and "NotNullViolation" in failed.error and failed.line is None
    assert fine.error is None and fine.line is not None
    assert scalar(pg_dsn, "SELECT count(*) FROM challengers") == 1
    assert scalar(pg_dsn, "SELECT state FROM handoffs WHERE name = 'h.json'") == "claimed"
    assert not settle(a, held).vanished


# -- failures: window, backoff, quarantine ------------------------------------------------------


def test_failures_back_off_then_quarantine_by_the_window_and_a_release_clears_them(
        pg_dsn: str, backend_for: Callable[..., PostgresBackend],
        make_config: Callable[..., Config]) -> None:
    config = make_config(failure_window={"max_failures": 3, "window_seconds": 600},
                         backoff={"base_seconds": 0.0, "max_seconds": 0.0})
    a = backend_for("a", config=config)
    a.submit("bad.json", handoff(FAILING))
    decided, keys = [], set()
    for _ in range(3):
        held = claim(a)
        failed = failure(a, held)
        keys.add(failed.record.key)
        verdict = a.fail(failed)
        decided.append((verdict.quarantine, len(verdict.failures)))
        with pytest.raises(Vanished):
            a.fail(failed)  # a redo of the same attempt: fenced, nothing counted twice
    assert decided == [(False, 1), (False, 2), (True, 3)]
    assert len(keys) == 3  # each deferral starts a new attempt
    reason = scalar(pg_dsn, "SELECT reason FROM handoffs")
    assert reason["bundle_sha256"] == spec_sha256(FAILING)
    assert len(reason["failures"]) == 3 and reason["quarantined_at"]
    assert reason["last_test_output"] == "1 failed"
    assert a.claim_next() is None
    [entry] = a.quarantined()
    assert (entry.name, entry.failures, entry.last_reason) == ("bad.json", 3, "tests failed")
    assert a.quarantine_detail("bad.json").last_test_output == "1 failed"
    released = a.release("bad.json")
    assert (released.failures_cleared, released.bundle_sha256) == (3, spec_sha256(FAILING))
    assert scalar(pg_dsn, "SELECT count(*) FROM failures") == 0
    assert claim(a).name == "bad.json"
    events = [line.event for batch in a.event_batches() for line in batch]
    assert events == ["repair_failed"] * 3 + ["quarantined", "released"]


def test_the_backoff_is_counted_on_the_database_clock(
        pg_dsn: str, backend_for: Callable[..., PostgresBackend],
        make_config: Callable[..., Config]) -> None:
    config = make_config(backoff={"base_seconds": 30, "max_seconds": 600})
    a = backend_for("a", config=config)
    a.submit("bad.json", handoff(FAILING))
    verdict = a.fail(failure(a, claim(a)))
    db_now = scalar(pg_dsn, "SELECT extract(epoch FROM now())::float8")
    assert 29 < verdict.not_before - db_now <= 30
    assert a.claim_next() is None
    retry = a.status().next_retry_in_s
    assert retry is not None and 29 < retry <= 30


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
        held_a, held_b = claim(a), claim(b)
        barrier = threading.Barrier(2)
        results: dict[str, bool] = {}
        threads = [threading.Thread(target=_fail_together,
                                    args=(x, failure(x, held, files), barrier, results))
                   for x, held in ((a, held_a), (b, held_b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(results.values()) == [False, True], round_
    assert scalar(pg_dsn, "SELECT count(*) FROM events WHERE event = 'quarantined'") == 5
    assert scalar(pg_dsn, "SELECT count(*) FROM failures") == 10


def _fail_together(backend: PostgresBackend, failed: Failure, barrier: threading.Barrier,
                   results: dict[str, bool]) -> None:
    barrier.wait()
    results[backend.instance] = backend.fail(failed).quarantine


# -- ingest ------------------------------------------------------------------------------------


INGEST_THEN_DIE = """
import os, signal, sys
sys.path.insert(0, {repo!r})
import msgspec
from repairlab.config import load_config
import repairlab.state.pg.backend as backend_module
from repairlab.state.pg.connector import PgConnector
backend_module.os.unlink = lambda path: os.kill(os.getpid(), signal.SIGKILL)
config = load_config(None, overrides={{"paths": {{"root": {root!r}}},
                                       "backend": {{"kind": "postgres", "dsn": {dsn!r}}}}})
backend = backend_module.PostgresBackend(config, "crasher")
backend.rescan()
"""


def test_an_ingest_redone_after_a_crash_between_commit_and_unlink_makes_one_handoff(
        tmp_path: Path, pg_dsn: str, backend_for: Callable[..., PostgresBackend],
        make_config: Callable[..., Config]) -> None:
    config = make_config()
    queued = config.root / "queue" / "h.json"
    queued.parent.mkdir(parents=True)
    queued.write_bytes(handoff())
    child = subprocess.run([sys.executable, "-c", INGEST_THEN_DIE.format(
        repo=str(REPO), dsn=pg_dsn, root=str(config.root))], capture_output=True, text=True,
        timeout=60, cwd=tmp_path)
    assert child.returncode == -9, child.stderr  # killed after the commit, before the unlink
    assert queued.exists()
    assert scalar(pg_dsn, "SELECT count(*) FROM handoffs") == 1
    a = backend_for("a", config=config)
    assert a.rescan() == 1
    assert not queued.exists()
    assert scalar(pg_dsn, "SELECT count(*) FROM handoffs") == 1
    assert a.claim_next() is not None and a.claim_next() is None


def test_a_batch_ingest_keeps_the_files_order_and_columns_and_skips_what_it_made_before(
        pg_dsn: str, backend_for: Callable[..., PostgresBackend]) -> None:
    a = backend_for("a")
    queue = a.layout.queue
    queue.mkdir(parents=True, exist_ok=True)
    names = [f"h{i}.json" for i in (3, 1, 2, 5, 4)]
    for i, name in enumerate(names):
        files = {**PASSING, "calc.py": PASSING["calc.py"] + f"# {i}\n"}
        (queue / name).write_bytes(b"not json" if name == "h2.json"
                                   else build_handoff(files, "calc", "calc.py", f"line-{i}"))
    again = handoff()
    (queue / "again.json").write_bytes(again)
    assert a.ingest_files([queue / "again.json"]) == 1
    (queue / "again.json").write_bytes(again)  # the same file, as if its unlink never ran
    assert a.ingest_files([queue / n for n in [*names, "again.json"]]) == len(names)
    assert not any(queue.iterdir())
    with psycopg.connect(pg_dsn) as conn:
        got = conn.execute("SELECT name, bundle_sha256, tool, lineage, state FROM handoffs "
                           "WHERE name <> 'again.json' ORDER BY id").fetchall()
    assert [row[0] for row in got] == names
    for i, (name, sha, tool, lineage, state) in enumerate(got):
        assert state == "queued"
        if name == "h2.json":  # queued all the same: its repairer marks it corrupt
            assert (sha, tool, lineage) == (None, None, None)
        else:
            files = {**PASSING, "calc.py": PASSING["calc.py"] + f"# {i}\n"}
            assert (sha, tool, lineage) == (spec_sha256(files), "calc", f"line-{i}")
    assert [claim(a).name for _ in range(6)] == ["again.json", *names]


def test_an_invalid_handoff_is_queued_then_marked_corrupt_with_its_reason(
        pg_dsn: str, backend_for: Callable[..., PostgresBackend]) -> None:
    a = backend_for("a")
    bad = a.layout.queue / "bad.json"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_bytes(b'{"schema": "repairlab.handoff/1", "tool": "x"')
    a.noticed("bad.json")
    held = claim(a)  # the repairer finds it invalid, as on the filesystem
    assert not bad.exists()
    assert a.open(held, 1 << 20).data == b'{"schema": "repairlab.handoff/1", "tool": "x"'
    a.mark_corrupt(Corrupt(claim=held, reason="json", message="not one JSON object"))
    assert scalar(pg_dsn, "SELECT state FROM handoffs") == "corrupt"
    assert scalar(pg_dsn, "SELECT reason->>'reason' FROM handoffs") == "json: not one JSON object"
    assert scalar(pg_dsn, "SELECT count(*) FROM events WHERE event = 'corrupt'") == 1
    assert a.status().corrupt == 1
    assert [json.loads(x)["event"] for x in a.layout.metrics.read_text().splitlines()] \
        == ["corrupt"]


def test_a_symlink_in_the_queue_is_recorded_as_corrupt_and_its_target_kept(
        tmp_path: Path, pg_dsn: str, backend_for: Callable[..., PostgresBackend]) -> None:
    a = backend_for("a")
    target = tmp_path / "secret.json"
    target.write_bytes(handoff())
    a.layout.queue.mkdir(parents=True, exist_ok=True)
    (a.layout.queue / "link.json").symlink_to(target)
    a.rescan()
    assert not (a.layout.queue / "link.json").is_symlink() and target.exists()
    assert scalar(pg_dsn, "SELECT state || ' ' || (reason->>'reason') FROM handoffs") \
        .startswith("corrupt file_type: the handoff is a symbolic link")
    assert scalar(pg_dsn, "SELECT octet_length(body) FROM handoffs") == 0


# -- the database going away ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_the_database_restarted_mid_work_loses_nothing_and_doubles_nothing(
        mode: str, pg_server: Any, pg_dsn: str,
        backend_for: Callable[..., PostgresBackend]) -> None:
    """`fast`: a clean restart, every claim survives and settles. `immediate`: a
    crash, which may lose the last claims (their commits do not wait for the
    disk): those are fenced off and claimed again, never settled twice."""
    from loguru import logger
    said: list[str] = []
    sink = logger.add(lambda m: said.append(str(m)), level="INFO", format="{message}")
    try:
        a = backend_for("a", backoff_base=0.2, backoff_max=1.0, timeout=2.0)
        for n in range(6):
            a.submit(f"h{n}.json", handoff(variant(PASSING, n)))
        held = [claim(a) for _ in range(3)]
        pg_server.restart(mode)  # every connection is cut
        deadline = time.monotonic() + 60
        outcomes = []
        for each in held:
            while True:
                try:
                    outcomes.append(a.settle([finish(a, each, variant(PASSING, int(
                        each.name[1:-5])))])[0])
                    break
                except BackendUnavailable:
                    assert time.monotonic() < deadline
                    time.sleep(0.1)
        while (more := a.claim_next()) is not None:
            settle(a, more, variant(PASSING, int(more.name[1:-5])))
    finally:
        logger.remove(sink)
    assert not any(o.error for o in outcomes)
    if mode == "fast":
        assert not any(o.vanished for o in outcomes)
    assert scalar(pg_dsn, "SELECT count(*) FROM handoffs WHERE state = 'done'") == 6
    assert scalar(pg_dsn, "SELECT count(*) FROM challengers") == 6
    assert scalar(pg_dsn, "SELECT count(*) FROM events WHERE event = 'repaired'") == 6
    assert a.db.health().ok
    down = [m for m in said if "database unreachable" in m]
    back = [m for m in said if "database reachable again" in m]
    assert len(down) <= 1 and len(back) == len(down)


def test_while_the_database_is_down_calls_fail_fast_and_status_says_since_when(
        pg_server: Any, pg_dsn: str, backend_for: Callable[..., PostgresBackend]) -> None:
    a = backend_for("a", backoff_base=5.0, timeout=1.0)
    a.submit("h.json", handoff())
    pg_server.stop("fast")
    try:
        with pytest.raises(BackendUnavailable):
            a.claim_next()
        began = time.monotonic()
        with pytest.raises(BackendUnavailable, match="unreachable since"):
            a.claim_next()  # within the back-off: refused without touching the network
        assert time.monotonic() - began < 0.5
        assert a.status().database.startswith("unreachable since ")  # type: ignore[union-attr]
        assert isinstance(BackendUnavailable("x"), OSError)  # callers that retry OSError
    finally:
        pg_server._pg_ctl_start()
    assert scalar(pg_dsn, "SELECT count(*) FROM handoffs WHERE state = 'queued'") == 1


def test_a_connection_that_rested_through_a_restart_is_replaced_before_use(
        pg_server: Any, pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pool pings only connections that rested (`PING_AFTER_SECONDS`): one
    cut by a restart meanwhile is replaced, and the call neither fails nor says
    the database was unreachable."""
    from repairlab.state.pg import connector as module
    monkeypatch.setattr(module, "PING_AFTER_SECONDS", 0.2)
    def server_pid(tx: Any) -> int:
        return int(tx.conn.execute("SELECT pg_backend_pid() AS pid").fetchone()["pid"])

    with PgConnector(pg_dsn, min_size=1, max_size=1, timeout=5.0) as db:
        before = db.run(server_pid)
        pg_server.restart("fast")  # the pooled connection is cut
        time.sleep(0.3)
        after = db.run(server_pid)
        assert db.health().ok
    assert before != after


def test_a_claim_reads_the_bundles_challenger_and_a_later_one_of_a_peer_makes_a_duplicate(
        pg_dsn: str, backend_for: Callable[..., PostgresBackend]) -> None:
    """`repaired_before` answers from what the claim read (no query), and a
    challenger a peer commits after that read is found when this one settles."""
    a, b = backend_for("a"), backend_for("b")
    a.submit("first.json", handoff())
    settle(a, claim(a))
    a.submit("again.json", handoff())  # the same files: repaired before
    again = claim(a)
    before = a.repaired_before(spec_sha256(PASSING))
    assert before is not None and before.strategy == "noop"
    other = variant(PASSING, 7)
    a.submit("mine.json", handoff(other))
    b.submit("theirs.json", handoff(other))
    mine, theirs = claim(a), claim(b)
    assert a.repaired_before(spec_sha256(other)) is None  # as the claim saw it
    peer = settle(b, theirs, other)
    late = settle(a, mine, other)
    assert late.line.duplicate is True and late.line.challenger == peer.line.challenger
    assert settle(a, again).line.duplicate is True
    assert scalar(pg_dsn, "SELECT count(*) FROM challengers") == 2
    assert scalar(pg_dsn, "SELECT count(*) FROM events WHERE (line->>'duplicate')::bool") == 2


def test_the_password_of_the_dsn_is_never_shown(pg_server: Any) -> None:
    dsn = f"host=127.0.0.1 port={pg_server.port} user=postgres password=hunter2 dbname=nope"
    shown = redact(dsn)
    assert "hunter2" not in shown and "password=***" in shown
    with PgConnector(dsn, timeout=2.0) as connector, \
            pytest.raises(BackendUnavailable) as refused:
        connector.one("db_now")
    assert "hunter2" not in str(refused.value)
    assert "hunter2" not in connector.health().line()


# -- wake-ups, reads, pruning ------------------------------------------------------------------


def test_an_idle_listener_wakes_at_once_on_a_submit_and_polls_without_one(
        pg_dsn: str, backend_for: Callable[..., PostgresBackend]) -> None:
    listener = WakeListener(pg_dsn, poll_seconds=0.3)
    a = backend_for("a")
    try:
        assert listener.wait(0.1) is False  # nothing: the poll bound
        threading.Timer(0.2, lambda: a.submit("h.json", handoff())).start()
        began = time.monotonic()
        woke = any(listener.wait(5.0) for _ in range(10))
        assert woke and time.monotonic() - began < 3
    finally:
        listener.close()


def test_an_event_reader_reads_on_from_its_cursor_and_misses_none(
        pg_dsn: str, backend_for: Callable[..., PostgresBackend]) -> None:
    a = backend_for("a")
    a.record_event(MetricLine(ts=rfc3339(time.time()), event="actor_restarted",
                              instance="a", meta_repair=False, actor="x"))
    first, cursor = a.events(None)
    assert [x.event for x in first] == ["actor_restarted"]
    with psycopg.connect(pg_dsn) as slow:  # takes an event id, commits later
        slow.execute("INSERT INTO events (event, instance, line) VALUES ('late', 'z', "
                     "'{\"ts\": \"2026-01-01T00:00:00Z\", \"event\": \"late\", "
                     "\"instance\": \"z\", \"meta_repair\": false}')")
        a.record_event(MetricLine(ts=rfc3339(time.time()), event="pruned", instance="a",
                                  meta_repair=False))
        during, cursor = a.events(cursor)
        assert during == []  # a transaction older than the pruned line is still open
    after, cursor = a.events(cursor)
    assert sorted(x.event for x in after) == ["late", "pruned"]
    assert a.events(cursor)[0] == []


def test_pruning_deletes_old_finished_handoffs_in_batches(
        pg_dsn: str, backend_for: Callable[..., PostgresBackend]) -> None:
    a = backend_for("a")
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(
            "INSERT INTO handoffs (name, ingest_key, body, state, state_since) "
            "SELECT 'h' || g || '.json', 'k' || g, '\\x00', 'done', now() - interval '8 days' "
            "FROM generate_series(1, 2500) g")
    a.submit("fresh.json", handoff())
    assert len(a.prune(7 * 86400, dry_run=True).removed) == 2500
    assert scalar(pg_dsn, "SELECT count(*) FROM handoffs") == 2501
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("INSERT INTO events (event, instance, line, ts) SELECT 'old', 'z', "
                     "'{}', now() - interval '8 days' FROM generate_series(1, 1500)")
    report = a.prune(7 * 86400)
    assert len(report.removed) == 2500 and report.bytes_freed == 2500
    assert scalar(pg_dsn, "SELECT count(*) FROM handoffs") == 1
    assert scalar(pg_dsn, "SELECT count(*) FROM events WHERE event = 'old'") == 0


def test_patterns_learned_on_one_host_are_offered_on_another(
        backend_for: Callable[..., PostgresBackend]) -> None:
    from repairlab.repair.bundle import Bundle
    a, b = backend_for("a"), backend_for("b")
    library_a, library_b = a.pattern_library(), b.pattern_library()
    assert library_a is not None and library_b is not None
    bundle = Bundle(PASSING, ("test_calc.py",), "calc.py", "calc")
    learned = library_a.learn(bundle, source_sha256=spec_sha256(PASSING))
    assert [p.id for p in learned] == ["calc:c0001"]
    assert library_b.learn(bundle, source_sha256=spec_sha256(PASSING)) == []  # known already
    # Known now to b too: learning it again asks the database nothing.
    asked: list[str] = []
    real = b.db.one

    def one(statement: str, /, **params: Any) -> Any:
        asked.append(statement)
        return real(statement, **params)
    b.db.one = one  # type: ignore[method-assign]  # the library's connector is b's
    assert library_b.learn(bundle, source_sha256=spec_sha256(PASSING)) == []
    assert asked == []
    offered = library_b.candidates(None, "add", "a, b", "calc", 5)
    assert [p.id for p in offered] == ["calc:c0001"]


def test_watch_wakes_on_a_peer_submit_and_on_a_local_queue_file(
        backend_for: Callable[..., PostgresBackend]) -> None:
    a, b = backend_for("a"), backend_for("b")
    woken: list[str | None] = []
    stop = a.watch(woken.append, lambda: woken.append("overflow"))
    try:
        time.sleep(0.3)  # the listener connects
        b.submit("peer.json", handoff())
        deadline = time.monotonic() + 5
        while None not in woken:
            assert time.monotonic() < deadline, woken
            time.sleep(0.02)
        tmp = a.layout.queue / ".local.tmp"
        tmp.write_bytes(handoff(variant(PASSING, 1)))
        tmp.rename(a.layout.queue / "local.json")
        while "local.json" not in woken:
            assert time.monotonic() < deadline, woken
            time.sleep(0.02)
    finally:
        stop()
    a.noticed("local.json")
    assert sorted(c.name for c in (claim(a), claim(a))) == ["local.json", "peer.json"]


DRAIN_WORKER = """
import sys, time
sys.path.insert(0, {repo!r}); sys.path.insert(0, {tests!r})
from loguru import logger; logger.remove()
from repairlab.config import load_config
from repairlab.state.backend import BackendUnavailable
from repairlab.state.pg.backend import PostgresBackend
from test_pg_backend import finish
config = load_config(None, overrides={{
    "paths": {{"root": {root!r}}}, "instance": {{"lease_seconds": 1.0}},
    "backend": {{"kind": "postgres", "dsn": {dsn!r}}}}})
backend = PostgresBackend(config, {instance!r})
while not backend.idle():
    backend.renew()
    backend.recover_stale(lambda line: None)
    held = backend.claim_next()
    if held is None:
        time.sleep(0.05)
        continue
    backend.open(held, 1 << 20)
    time.sleep(0.02)  # the repair
    backend.settle([finish(backend, held, held.name and __import__("conftest").variant(
        __import__("conftest").PASSING, int(held.name[1:-5])))])
"""


@pytest.mark.timeout(240)
def test_three_instances_with_one_killed_midway_settle_every_handoff_exactly_once(
        tmp_path: Path, pg_dsn: str, backend_for: Callable[..., PostgresBackend]) -> None:
    feeder = backend_for("feeder")
    for n in range(200):
        feeder.submit(f"h{n}.json", handoff(variant(PASSING, n)))
    children = []
    for i in range(3):
        script = DRAIN_WORKER.format(repo=str(REPO), tests=str(REPO / "tests"), dsn=pg_dsn,
                                     root=str(tmp_path / f"root{i}"), instance=f"i{i}")
        with open(tmp_path / f"i{i}.err", "wb") as err:
            children.append(subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path,
                                             stdin=subprocess.DEVNULL, stderr=err))
    try:
        held_by_i0 = "SELECT count(*) FROM handoffs WHERE claimed_by = 'i0'"
        deadline = time.monotonic() + 60
        while True:  # freeze i0 while it holds a claim, then SIGKILL it
            assert time.monotonic() < deadline and children[0].poll() is None
            if scalar(pg_dsn, held_by_i0) > 0:
                children[0].send_signal(signal.SIGSTOP)
                if scalar(pg_dsn, held_by_i0) > 0:
                    break
                children[0].send_signal(signal.SIGCONT)
            time.sleep(0.01)
        children[0].kill()
        children[0].wait(10)
        for i, child in enumerate(children[1:], 1):
            child.wait(180)
            assert child.returncode == 0, (tmp_path / f"i{i}.err").read_text()[-2000:]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait(10)
    assert scalar(pg_dsn, "SELECT count(*) FROM handoffs WHERE state = 'done'") == 200
    assert scalar(pg_dsn, "SELECT count(*) FROM handoffs WHERE attempt = 0") == 200
    assert scalar(pg_dsn, "SELECT count(*) FROM challengers") == 200
    assert scalar(pg_dsn, "SELECT count(DISTINCT bundle_sha256) FROM challengers") == 200
    assert scalar(pg_dsn, "SELECT count(*) FROM events WHERE event = 'repaired' "
                          "AND NOT (line->>'duplicate')::boolean") == 200


def test_status_shows_each_instance_with_what_it_holds_until_a_clean_stop(
        backend_for: Callable[..., PostgresBackend]) -> None:
    a, b = backend_for("a"), backend_for("b")
    a.submit("h.json", handoff())
    a.renew()
    held = claim(a)
    b.renew()
    report = b.status()
    assert report.database == "ok" and report.root.startswith("host=127.0.0.1")
    assert [(i.instance, i.alive, i.in_flight) for i in report.instances] == [
        ("a", True, 1), ("b", True, 0)]
    assert report.in_flight == 1 and report.queue == 0
    assert a.hand_back_all() == 1
    report = b.status()
    assert [i.instance for i in report.instances] == ["b"] and report.queue == 1
    assert settle(a, held).vanished


def test_run_py_migrate_on_the_filesystem_backend_has_nothing_to_do(tmp_path: Path) -> None:
    config = tmp_path / "r.toml"
    config.write_text(f'[paths]\nroot = "{tmp_path / "state"}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPAIRLAB_")}
    done = subprocess.run([sys.executable, str(REPO / "run.py"), "migrate", "--config",
                           str(config)], capture_output=True, text=True, timeout=60, env=env,
                          cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert "no database schema to migrate" in done.stdout


def test_without_the_intake_thread_noticed_files_wait_for_a_claim_that_runs_dry_or_the_heartbeat(
        pg_dsn: str, backend_for: Callable[..., PostgresBackend]) -> None:
    a = backend_for("a")  # not watching: no intake thread
    queue = a.layout.queue
    queue.mkdir(parents=True, exist_ok=True)
    (queue / "first.json").write_bytes(handoff(variant(PASSING, 1)))
    a.submit("direct.json", handoff(variant(PASSING, 2)))
    a.noticed("first.json")
    assert scalar(pg_dsn, "SELECT count(*) FROM handoffs") == 1  # a hint, nothing more
    # A claim does not wait for the ingest while the database has work to give...
    assert claim(a).name == "direct.json"
    assert (queue / "first.json").exists()
    # ...and the claim that finds nothing ingests what was noticed, then takes it.
    assert claim(a).name == "first.json"
    assert not list(queue.iterdir())
    (queue / "late.json").write_bytes(handoff(variant(PASSING, 999)))
    a.noticed("late.json")
    a.renew()  # a busy instance (no claim) ingests at its heartbeat
    assert not (queue / "late.json").exists()
    assert scalar(pg_dsn, "SELECT count(*) FROM handoffs") == 3


def test_while_watching_the_intake_thread_ingests_a_burst_in_group_commits_and_wakes(
        pg_dsn: str, backend_for: Callable[..., PostgresBackend]) -> None:
    from repairlab.state.pg.backend import INGEST_BATCH

    a = backend_for("a")
    queue = a.layout.queue
    queue.mkdir(parents=True, exist_ok=True)
    count = 2 * INGEST_BATCH + 5
    for i in range(count):
        (queue / f"h{i:03d}.json").write_bytes(handoff(variant(PASSING, i)))
    woken: list[str | None] = []
    stop = a.watch(woken.append, lambda: woken.append("overflow"))
    try:
        for i in range(count):  # as the watcher passes inotify's names on
            a.noticed(f"h{i:03d}.json")
        # No claim, no heartbeat, no rescan: the intake thread alone takes them in.
        deadline = time.monotonic() + 20
        while scalar(pg_dsn, "SELECT count(*) FROM handoffs") < count:
            assert time.monotonic() < deadline, "the noticed files were not ingested"
            time.sleep(0.02)
        while list(queue.iterdir()):
            assert time.monotonic() < deadline, "ingested files were not unlinked"
            time.sleep(0.02)
        assert None in woken  # the watcher is told that there is work
    finally:
        stop()
    # A transaction per INGEST_BATCH files at most, and not one per file: each
    # row still carries the id of the transaction that inserted it.
    transactions = scalar(pg_dsn, "SELECT count(DISTINCT xmin::text) FROM handoffs")
    assert count // INGEST_BATCH < transactions < count
    assert sorted(claim(a).name for _ in range(count)) == [f"h{i:03d}.json" for i in range(count)]
