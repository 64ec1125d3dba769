"""Overhead: the whole daemon against the repair engine alone, same bundles, same workers.

    .venv/bin/python bench/overhead.py [--quick] [--reps 3] [--handoffs 2000]
                                       [--backend filesystem|postgres]

Each repetition, on a fresh state root: N passing handoffs (distinct bundles, two
tests each) are drained by the in-process daemon (real actors, real repair engine,
the real warm sandboxed runner, `repair.strategies = ["noop"]`, `repair.workers =
2`), timed from the moment they are renamed into `queue/` (the workers' runners
already warm) to the ctime of the last file to land in `processed/done/`. Then (or
first: the order alternates between repetitions) the same bundles, decoded
beforehand, go straight to `repair.Engine.repair` from a plain loop on 2 threads,
each with its own warm runner and the same pattern library setup. Both clocks
start after an `os.sync()`, so that neither side pays for writing back the files
staged before it (or left by the other side). The ratio daemon/loop is taken
within each repetition; the table gives medians.

`--backend postgres` (SPEC §9): the daemon runs on `[backend] kind = "postgres"`
against a throwaway PostgreSQL 15 it starts itself (`tests/pg_server.py`, fsync
on, as `bench/pg_claims.py`), a fresh migrated database per repetition; the
handoffs are renamed into the local `queue/` as before (the daemon ingests them
into the database), and the daemon's clock stops at the database's time of the
last handoff to reach `done` (`state_since`; one host, one clock). The loop is
the same plain engine loop: what the backend costs is part of the overhead.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # pg_server.py

from _common import (
    Row,
    bench_config,
    count_entries,
    describe,
    handoff_bytes,
    median,
    newest_ctime,
    passing_files,
    run_main,
    running_daemon,
    say,
    spread,
    state_dir,
    wait_until,
    write_files,
)

from repairlab.actors.repairer import engine_settings, make_patterns, make_runner
from repairlab.config import Config
from repairlab.messages.handoff import decode_handoff
from repairlab.repair.engine import Engine

WORKERS = 2
DURABLE = "-c max_connections=200 -c shared_buffers=128MB"  # fsync on (bench/pg_claims.py)


class Postgres:
    """The throwaway server of `--backend postgres`: a fresh migrated database
    for each daemon run (`fresh()` returns its DSN)."""

    def __init__(self) -> None:
        from pg_server import PgServer

        self.server = PgServer(options=DURABLE).start()
        self.made = 0

    def fresh(self) -> str:
        import psycopg

        from repairlab.state.pg.connector import PgConnector
        from repairlab.state.pg.migrate import migrate

        self.made += 1
        name = f"overhead{self.made}"
        with psycopg.connect(self.server.dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        with PgConnector(self.server.dsn(name)) as connector:
            migrate(connector)
        return str(self.server.dsn(name))

    def close(self) -> None:
        self.server.destroy()


class _Done:
    """What has reached `done` in the database, read over one connection (a
    connection per poll would charge the server a backend's start each time)."""

    def __init__(self, dsn: str) -> None:
        import psycopg

        self.conn = psycopg.connect(dsn, autocommit=True)

    def __call__(self) -> tuple[int, float | None, int]:
        """(handoffs done, the database's time of the last one as POSIX time,
        challengers)."""
        row = self.conn.execute("SELECT count(*), extract(epoch FROM max(state_since)) FROM "
                                "handoffs WHERE state = 'done'").fetchone()
        challengers = self.conn.execute("SELECT count(*) FROM challengers").fetchone()
        assert row is not None and challengers is not None
        return int(row[0]), None if row[1] is None else float(row[1]), int(challengers[0])

    def close(self) -> None:
        self.conn.close()


def _config(root: Path, dsn: str | None = None) -> Config:
    extra = {} if dsn is None else {"backend": {"kind": "postgres", "dsn": dsn}}
    return bench_config(root, repair={"workers": WORKERS, "strategies": ["noop"]}, **extra)


def daemon_rate(root: Path, items: list[tuple[str, bytes]], dsn: str | None = None) -> float:
    """Handoffs per second through the whole daemon (on the database `dsn` if given)."""
    if dsn is not None:
        return _daemon_rate_postgres(root, items, dsn)
    config = _config(root)
    warmup = [(f"warmup{i}.json", handoff_bytes(passing_files(-1 - i))) for i in range(WORKERS)]
    staged = write_files(root / "staging", warmup + items)
    done = root / "processed" / "done"
    with running_daemon(config) as daemon:
        if not wait_until(lambda: daemon.healthy(timeout=30), timeout=120, poll=0.2):
            raise RuntimeError("the daemon did not come up")
        # Two unmeasured handoffs first: the loop's runners get one warm-up run each too.
        for path in staged[:WORKERS]:
            path.rename(root / "queue" / path.name)
        if not wait_until(lambda: count_entries(done) >= WORKERS, timeout=120, poll=0.05):
            raise RuntimeError("the warm-up handoffs did not reach done/")
        os.sync()  # the staged files' writeback is the producer's, not the daemon's
        started = time.time()
        for path in staged[WORKERS:]:
            path.rename(root / "queue" / path.name)
        total = len(staged)
        if not wait_until(lambda: count_entries(done) >= total, 60 + total, poll=0.25):
            raise RuntimeError(f"only {count_entries(done)} of {total} reached done/")
        finished = newest_ctime(done)
    challengers = count_entries(root / "challengers")
    if challengers != len(staged):
        raise RuntimeError(f"{challengers} challengers for {len(staged)} handoffs")
    return len(items) / (finished - started)


def _daemon_rate_postgres(root: Path, items: list[tuple[str, bytes]], dsn: str) -> float:
    config = _config(root, dsn)
    warmup = [(f"warmup{i}.json", handoff_bytes(passing_files(-1 - i))) for i in range(WORKERS)]
    staged = write_files(root / "staging", warmup + items)
    done = _Done(dsn)
    with running_daemon(config) as daemon:
        if not wait_until(lambda: daemon.healthy(timeout=30), timeout=120, poll=0.2):
            raise RuntimeError("the daemon did not come up")
        for path in staged[:WORKERS]:
            path.rename(root / "queue" / path.name)
        if not wait_until(lambda: done()[0] >= WORKERS, timeout=120, poll=0.05):
            raise RuntimeError("the warm-up handoffs did not reach done")
        os.sync()
        started = time.time()
        for path in staged[WORKERS:]:
            path.rename(root / "queue" / path.name)
        total = len(staged)
        if not wait_until(lambda: done()[0] >= total, 60 + total, poll=0.25):
            raise RuntimeError(f"only {done()[0]} of {total} reached done")
        _, finished, challengers = done()
    done.close()
    if challengers != len(staged) or finished is None:
        raise RuntimeError(f"{challengers} challengers for {len(staged)} handoffs")
    return len(items) / (finished - started)


def loop_rate(root: Path, items: list[tuple[str, bytes]]) -> float:
    """Handoffs per second from `Engine.repair` in a plain loop on WORKERS threads."""
    config = _config(root)
    limits = config.limits
    bundles = [decode_handoff(data, max_bytes=limits.max_handoff_bytes,
                              max_files=limits.max_files).bundle() for _, data in items]
    runners = [make_runner() for _ in range(WORKERS)]
    patterns = make_patterns(root / "patterns")
    (root / "patterns").mkdir(parents=True, exist_ok=True)
    settings = engine_settings(config)
    failures: list[str] = []
    next_index = itertools.count()

    def work(runner: object) -> None:
        while (i := next(next_index)) < len(bundles):
            engine = Engine(settings, runner, patterns=patterns)  # type: ignore[arg-type]
            outcome = engine.repair(bundles[i])
            if not outcome.repaired:
                failures.append(outcome.reason)

    try:
        for runner in runners:  # warm, as the daemon's are when its clock starts
            runner.run(bundles[0].files, bundles[0].tests, timeout=30)
        threads = [threading.Thread(target=work, args=(r,)) for r in runners]
        os.sync()  # as for the daemon: no earlier writes are flushed on this side's clock
        started = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        finished = time.time()
    finally:
        for runner in runners:
            runner.close()
    if failures:
        raise RuntimeError(f"{len(failures)} bundles not repaired: {failures[0]}")
    return len(bundles) / (finished - started)


def measure(args: argparse.Namespace) -> list[Row]:
    """Alternate daemon and loop for `args.reps` repetitions; ratio per repetition."""
    n = 20 if args.quick else args.handoffs
    daemons: list[float] = []
    loops: list[float] = []
    ratios: list[float] = []
    postgres = Postgres() if args.backend == "postgres" else None
    try:
        return _measure(args, n, daemons, loops, ratios, postgres)
    finally:
        if postgres is not None:
            postgres.close()


def _measure(args: argparse.Namespace, n: int, daemons: list[float], loops: list[float],
             ratios: list[float], postgres: Postgres | None) -> list[Row]:
    with state_dir(args.dir, "overhead") as base:
        say(f"overhead: {n} passing handoffs x {args.reps} repetitions, {WORKERS} workers, "
            f"strategies [noop], real engine and warm runner, backend {args.backend}"
            + (" (PostgreSQL 15, fsync on, on this host)" if postgres else ""))
        say(describe(base))
        probe = make_runner()
        say(f"runner: {type(probe).__name__}, sandbox="
            f"{'bwrap' if getattr(probe, 'sandboxed', False) else 'none'}")
        probe.close()
        for rep in range(args.reps):
            items = [(f"h{rep}-{i:05d}.json", handoff_bytes(passing_files(rep * 100_000 + i)))
                     for i in range(n)]
            order = ["daemon", "loop"] if rep % 2 == 0 else ["loop", "daemon"]
            got: dict[str, float] = {}
            for side in order:
                root = base / f"{side}{rep}"
                if side == "daemon":
                    got[side] = daemon_rate(root, items,
                                            postgres.fresh() if postgres is not None else None)
                else:
                    got[side] = loop_rate(root, items)
            daemons.append(got["daemon"])
            loops.append(got["loop"])
            ratios.append(got["daemon"] / got["loop"])
            say(f"  rep {rep + 1}: daemon {got['daemon']:.1f}/s, loop {got['loop']:.1f}/s, "
                f"ratio {ratios[-1]:.1%}")
    how = f"{n} handoffs, {WORKERS} workers, backend {args.backend}"
    ratio = median(ratios)
    return [
        Row("1 overhead: daemon rate", f"{median(daemons):.1f} handoffs/s",
            note=f"{how}; {spread(daemons)}"),
        Row("1 overhead: engine loop rate", f"{median(loops):.1f} handoffs/s",
            note=f"{how}; {spread(loops)}"),
        Row("1 overhead: daemon/loop", f"{ratio:.1%}", "≥ 90%", ratio >= 0.9,
            note=f"ratio within each run; {spread([r * 100 for r in ratios])} %"),
    ]


def _options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--handoffs", type=int, default=2000, help="handoffs per repetition")
    p.add_argument("--backend", choices=["filesystem", "postgres"], default="filesystem",
                   help="the daemon's backend (postgres: a throwaway server of its own)")


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print the table."""
    return run_main(__doc__, 3, measure, argv, _options)


if __name__ == "__main__":
    sys.exit(main())
