"""Claims through PostgreSQL against the filesystem, and claim latency with a
million finished rows.

    .venv/bin/python bench/pg_claims.py [--quick] [--handoffs 3000] [--instances 3]
                                        [--finished 1000000] [--no-fsync]

Starts its own PostgreSQL 15 (tests/pg_server.py: the postgres user, a private
socket directory, a loopback port; durable by default: fsync on).

1. Claims per second: N noop handoffs (each a distinct bundle) are queued, then
   `--instances` processes drain them, each looping claim → open → settle (the
   challenger, the done state and the `repaired` event), as the daemon's actors
   do with a noop repair, on the postgres backend (`state/pg/backend.py`) and on
   the filesystem (`state/fs_backend.py` when present; before it, the same steps
   by `state/claims.py` renames, `ChallengerStore.write` and `MetricsLog`).
   Rate = handoffs / (last finish - first start).
2. Claim latency: `--finished` rows in state done (one INSERT ... SELECT
   generate_series), then 1,000 handoffs queued and claimed one at a time by
   `claim_next()` (one transaction each): p50 and p99, next to the same with no
   finished rows; then the watcher's rescan (`rescan()`: the local queue listed and
   the claimable rows counted), median of 20.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from _common import Row, percentile, run_main, say

from repairlab.config import Config, load_config


def _config(root: Path, kind: str, dsn: str) -> Config:
    return load_config(None, overrides={
        "paths": {"root": str(root)}, "backend": {"kind": kind, "dsn": dsn},
        "instance": {"lease_seconds": 60}})


def _files(n: int) -> dict[str, str]:
    return {"calc.py": f"def add(a, b):\n    return a + b  # {n}\n",
            "test_calc.py": ("from calc import add\n\n\n"
                             "def test_add():\n    assert add(2, 3) == 5\n")}


def _finish(instance: str, claim: Any, data: bytes) -> Any:
    import msgspec

    from repairlab.messages.records import Challenger, MetricLine, TestCounts, rfc3339
    from repairlab.repair.bundle import bundle_sha256
    from repairlab.state.backend import Finish
    doc = msgspec.json.decode(data)
    sha = bundle_sha256(doc["files"])
    now = rfc3339(time.time())
    challenger = Challenger(
        tool=doc["tool"], lineage=None, handoff_id=doc.get("id"), bundle_sha256=sha,
        repaired_sha256=sha, repair_strategy="noop", repair_pattern_id=None, repair_attempts=0,
        repair_details={"note": "already passing"}, files=doc["files"], diff="",
        tests=TestCounts(passed=1, failed=0, duration_s=0.0), instance=instance,
        created_at=now, handoff_name=claim.name)
    line = MetricLine(ts=now, event="repaired", instance=instance, meta_repair=True,
                      bundle_sha256=sha, tool=doc["tool"], repair_strategy="noop",
                      repair_attempts=0, duration_s=0.0, handoff=claim.name)
    return Finish(claim=claim, line=line, challenger=challenger)


def _drain_backend(kind: str, root: str, dsn: str, instance: str, start: Any,
                   out: Any) -> None:
    from loguru import logger
    logger.remove()
    from repairlab.state.backend import open_backend
    backend = open_backend(_config(Path(root), kind, dsn), instance)
    start.wait()
    began, done = time.time(), 0
    backend.rescan()  # the watcher's first scan (the filesystem learns its queue here)
    while True:
        claim = backend.claim_next()
        if claim is None:
            backend.rescan()
            claim = backend.claim_next()
            if claim is None:
                break
        opened = backend.open(claim, 1 << 20)
        backend.settle([_finish(instance, claim, opened.data)])
        done += 1
    out.put((began, time.time(), done))
    backend.close()


def _drain_renames(root: str, instance: str, start: Any, out: Any) -> None:
    """The filesystem's steps without the seam: claim by rename, the challenger
    durable, the move to done/, the metrics line."""
    from loguru import logger
    logger.remove()
    from repairlab.state.challengers import ChallengerStore
    from repairlab.state.claims import Claims, is_handoff_name
    from repairlab.state.fsops import move_unique
    from repairlab.state.layout import Layout
    from repairlab.state.metrics import MetricsLog
    layout = Layout.at(Path(root))
    claims = Claims(layout, instance)
    store = ChallengerStore(layout.challengers)
    metrics = MetricsLog(layout.metrics, instance)
    start.wait()
    began, done = time.time(), 0
    while True:
        names = sorted(e.name for e in os.scandir(layout.queue) if is_handoff_name(e.name))
        if not names:
            break
        for name in names:
            path = claims.claim(name)
            if path is None:
                continue
            finish = _finish(instance, type("C", (), {"name": name})(), path.read_bytes())
            store.write(finish.challenger)
            move_unique(path, layout.done, name)
            metrics.append(finish.line)
            done += 1
    out.put((began, time.time(), done))


def _rate(kind: str, handoffs: int, instances: int, dsn: str) -> tuple[float, int]:
    from repairlab.cli.submit import build_handoff
    from repairlab.state.layout import Layout
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix=f"pgbench-{kind}-", dir="/var/tmp") as tmp:
        root = Path(tmp) / "state"
        Layout.at(root).ensure()
        datas = [(f"h{n:06d}.json", build_handoff(_files(n), "calc", "calc.py"))
                 for n in range(handoffs)]
        if kind == "postgres":
            from repairlab.state.backend import open_backend
            feeder = open_backend(_config(root, kind, dsn), "feeder")
            for name, data in datas:
                feeder.submit(name, data)
            feeder.close()
        else:
            for name, data in datas:
                (root / "queue" / name).write_bytes(data)
        fs_backend = kind != "filesystem" or _have_fs_backend()
        start, out = ctx.Event(), ctx.Queue()
        procs = []
        for i in range(instances):
            if fs_backend:
                target, args = _drain_backend, (kind, str(root), dsn, f"bench-{i}", start, out)
            else:
                target, args = _drain_renames, (str(root), f"bench-{i}", start, out)
            procs.append(ctx.Process(target=target, args=args))
        for p in procs:
            p.start()
        time.sleep(3.0)  # let every child import and connect before the start
        start.set()
        results = [out.get(timeout=600) for _ in procs]
        for p in procs:
            p.join(60)
        total = sum(r[2] for r in results)
        assert total == handoffs, (total, handoffs)
        span = max(r[1] for r in results) - min(r[0] for r in results)
        return total / span, total


def _have_fs_backend() -> bool:
    try:
        import repairlab.state.fs_backend  # noqa: F401
    except ImportError:
        return False
    return True


def _latency(dsn: str, finished: int, claims: int = 1000) -> tuple[float, float, float]:
    import psycopg

    from repairlab.cli.submit import build_handoff
    from repairlab.state.pg.backend import PostgresBackend
    with tempfile.TemporaryDirectory(prefix="pgbench-lat-", dir="/var/tmp") as tmp:
        config = _config(Path(tmp) / "state", "postgres", dsn)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("TRUNCATE handoffs, challengers, events, failures")
            if finished:
                conn.execute(
                    "INSERT INTO handoffs (name, ingest_key, body, state, state_since) "
                    "SELECT 'f' || g || '.json', 'f' || g, '\\x7b7d', 'done', now() "
                    "FROM generate_series(1, %s) g", (finished,))
            conn.execute("VACUUM ANALYZE handoffs")
        backend = PostgresBackend(config, "lat")
        for n in range(claims):
            backend.submit(f"q{n:05d}.json", build_handoff(_files(n), "calc", "calc.py"))
        times = []
        for _ in range(claims):
            began = time.perf_counter()
            got = backend.claim_next()
            times.append(time.perf_counter() - began)
            assert got is not None
        scans = []
        for _ in range(20):  # what the watcher does every `watch.rescan_seconds`
            began = time.perf_counter()
            backend.rescan()
            scans.append(time.perf_counter() - began)
        backend.close()
    return percentile(times, 50) * 1000, percentile(times, 99) * 1000, \
        percentile(scans, 50) * 1000


def measure(args: argparse.Namespace) -> list[Row]:
    from pg_server import SERVER_OPTIONS, PgServer

    from repairlab.state.pg.connector import PgConnector
    from repairlab.state.pg.migrate import migrate
    options = SERVER_OPTIONS if args.no_fsync else "-c max_connections=200 -c shared_buffers=128MB"
    server = PgServer(options=options).start()
    rows = []
    try:
        import psycopg
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench")
        dsn = server.dsn("bench")
        with PgConnector(dsn) as connector:
            migrate(connector)
        durability = "fsync off" if args.no_fsync else "fsync on"
        handoffs = 300 if args.quick else args.handoffs
        fs_how = "the seam" if _have_fs_backend() else "claims.py renames (no fs_backend yet)"
        for kind in ("postgres", "filesystem"):
            say(f"claims/s: {kind}, {args.instances} instances, {handoffs} noop handoffs")
            rate, total = _rate(kind, handoffs, args.instances, dsn)
            note = (f"PostgreSQL 15, {durability}" if kind == "postgres"
                    else f"{fs_how}, /var/tmp")
            rows.append(Row(f"claim+settle rate, {kind}, {args.instances} instances",
                            f"{rate:.0f}/s ({total} handoffs)", note=note))
            if kind == "postgres":
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute("TRUNCATE handoffs, challengers, events, failures")
        finished = 100000 if args.quick else args.finished
        for rows_done in (0, finished):
            say(f"claim latency with {rows_done} finished rows")
            p50, p99, scan = _latency(dsn, rows_done)
            rows.append(Row(f"claim latency, {rows_done:,} finished rows",
                            f"p50 {p50:.2f} ms, p99 {p99:.2f} ms", note=durability))
            rows.append(Row(f"rescan, {rows_done:,} finished rows", f"median {scan:.2f} ms",
                            note="queue/ listed, claimable rows counted; every "
                                 "watch.rescan_seconds per instance"))
    finally:
        server.destroy()
    return rows


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--handoffs", type=int, default=3000)
    p.add_argument("--instances", type=int, default=3)
    p.add_argument("--finished", type=int, default=1000000)
    p.add_argument("--no-fsync", action="store_true", help="the test server's settings")


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(__doc__, 1, measure, argv, configure)


if __name__ == "__main__":
    sys.exit(main())
