"""The daemon on PostgreSQL, end to end (issue 15, SPEC §9): real `run.py run`
processes, each with a state root of its own as if on a host of its own, one
real database (the throwaway server of `tests/pg_server.py`), handoffs dropped
into the instances' local `queue/` and handed in with `run.py submit`, real
SIGKILLs and a real database restart. What is checked is read from the
database and the roots (`bench/chaos_pg.py`'s `verdict`): every handoff
terminal once, no handoff ingested twice, no terminal event twice, no
duplicate challenger, nothing left in a local queue.

Instance 0 of each fleet runs as the unprivileged test user (conftest's
`AsUser`), as the shipped unit runs it; the others as the suite's user.

The lease that a lapsed instance's late settle is refused, and two instances
racing to the same quarantine decision, are backend contract tests
(tests/test_backend_contract.py) on both backends.
"""

from __future__ import annotations

import random
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import PASSING, AsUser, started_pg_server, variant, wait_for
from repairlab.cli.submit import build_handoff, enqueue

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from chaos_pg import PgFleet, finished, ok, queued_locally, scalar, verdict  # noqa: E402

pytest.importorskip("psycopg", reason="psycopg is not installed (pip install -e '.[test]')")
pytestmark = pytest.mark.timeout(420)

NOOP = ["noop"]


def _handoff(n: int) -> bytes:
    return build_handoff(variant(PASSING, n), "calc", "calc.py", "pg-e2e")


@pytest.fixture
def fleet_dir(unprivileged_user: AsUser, workdir_as: Callable[[AsUser], Path]) -> Path:
    """Where the fleet's roots, configs and logs live: a directory the
    unprivileged user owns and can reach (instance 0 runs as that user)."""
    return workdir_as(unprivileged_user)


@pytest.fixture
def make_fleet(fleet_dir: Path, unprivileged_user: AsUser) -> Iterator[Callable[..., PgFleet]]:
    """`make_fleet(dsn, count, **config)`: instances pge2e0.. with roots of their
    own on the database `dsn`, instance 0 as the unprivileged user; every
    process stopped at the end (SIGTERM, then SIGKILL of its group)."""
    made: list[PgFleet] = []

    def make(dsn: str, count: int, **config: Any) -> PgFleet:
        config.setdefault("strategies", NOOP)
        config.setdefault("lease", 2)
        fleet = PgFleet(fleet_dir, dsn, count, prefix="pge2e",
                        popen=lambda k: unprivileged_user.popen if k == 0 else {}, **config)
        for layout in fleet.layouts:
            layout.ensure()
        unprivileged_user.own(fleet.roots[0])
        made.append(fleet)
        return fleet

    yield make
    for fleet in made:
        fleet.stop_all(timeout=30)


def _drop(fleet: PgFleet, user: AsUser, k: int, items: list[tuple[str, bytes]]) -> None:
    """Put `items` into instance k's local queue as its producer would (as the
    user that instance runs as)."""
    def put() -> None:
        for name, data in items:
            enqueue(fleet.layouts[k], data, "calc", name)
    if k == 0:
        user.call(put)
    else:
        put()


def _submit_dir(fleet: PgFleet, k: int, n: int, base: Path) -> str:
    directory = base / f"submit{n}"
    directory.mkdir()
    for rel, text in variant(PASSING, n).items():
        (directory / rel).write_text(text)
    done = fleet.run_py(k, "submit", str(directory), "--tool", "calc", "--entrypoint",
                        "calc.py", "--lineage", "pg-e2e")
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def _wait_terminal(fleet: PgFleet, dsn: str, total: int, timeout: float,
                   during: Callable[[], None] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        done = finished(dsn)
        if done == total and queued_locally(fleet.layouts) == 0:
            return
        for k, proc in enumerate(fleet.procs):
            assert proc is None or proc.poll() is None, \
                f"instance {k} exited {proc.returncode if proc else None}:\n" \
                + fleet.log_text()[-3000:]
        assert time.monotonic() < deadline, \
            f"{done}/{total} terminal after {timeout}s\n" + fleet.log_text()[-3000:]
        if during is not None:
            during()
        time.sleep(0.2)


@pytest.mark.parametrize("count,handoffs", [(2, 200), (3, 300)])
def test_instances_on_one_database_with_sigkills_settle_every_handoff_once(
        pg_database: Callable[..., str], make_fleet: Callable[..., PgFleet],
        unprivileged_user: AsUser, tmp_path: Path, count: int, handoffs: int) -> None:
    dsn = pg_database()
    fleet = make_fleet(dsn, count)
    rng = random.Random(count)
    items = [(f"h{n:04d}.json", _handoff(n)) for n in range(handoffs)]
    half = handoffs // 2
    # Half before the instances start, half while they run; each instance's share
    # into its own local queue, and two through `run.py submit` (straight to the database).
    for k in range(count):
        _drop(fleet, unprivileged_user, k, items[k:half:count])
    for k in range(count):
        fleet.start(k)
    submitted = [name for name, _ in items]
    submitted += [_submit_dir(fleet, 1, handoffs + i, tmp_path) for i in range(2)]
    for k in range(count):
        _drop(fleet, unprivileged_user, k, items[half + k::count])
    kills = {"n": 0, "next": time.monotonic() + 1.5}

    def kill_some() -> None:  # one SIGKILL every ~1.5 s while work is left, five at most
        if kills["n"] < 5 and time.monotonic() >= kills["next"]:
            victim = rng.randrange(count)
            if fleet.kill(victim):
                kills["n"] += 1
                time.sleep(0.3)
                fleet.start(victim)
            kills["next"] = time.monotonic() + 1.5

    _wait_terminal(fleet, dsn, len(submitted), timeout=300, during=kill_some)
    assert fleet.kills >= 1, "no instance was killed while work was left"
    # Every instance up (its heartbeat row names the pid it runs as now), so that
    # one just started again has its signal handlers when it is told to stop.
    wait_for(lambda: all(proc is not None and scalar(
        dsn, "SELECT count(*) FROM instances WHERE instance = %s AND pid = %s",
        f"pge2e{k}", proc.pid) == 1 for k, proc in enumerate(fleet.procs)),
        timeout=60, what="every instance up")
    codes = fleet.stop_all()
    figures = verdict(dsn, submitted, fleet.layouts)
    assert ok(figures), figures
    assert figures["done"] == len(submitted) and figures["challengers"] == len(submitted)
    assert codes[0] == 0, fleet.log_text()[-3000:]  # the unprivileged instance stopped cleanly
    # Each instance's own events are in its local metrics.jsonl too (SPEC §9).
    for k, layout in enumerate(fleet.layouts):
        assert f'"instance":"pge2e{k}"' in layout.metrics.read_text(), f"instance {k}"
    assert scalar(dsn, "SELECT count(*) FROM handoffs WHERE claimed_by IS NOT NULL") == 0


def _status(fleet: PgFleet) -> str:
    done = fleet.run_py(1, "status")
    return done.stdout + done.stderr


def test_the_database_restarted_mid_work_loses_nothing_and_status_says_unreachable_then_ok(
        make_fleet: Callable[..., PgFleet], unprivileged_user: AsUser) -> None:
    import psycopg
    server = started_pg_server()
    try:
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE restarted")
        dsn = server.dsn("restarted")
        fleet = make_fleet(dsn, 2)
        migrated = fleet.run_py(1, "migrate")
        assert migrated.returncode == 0, migrated.stderr
        items = [(f"r{n:04d}.json", _handoff(n)) for n in range(150)]
        for k in range(2):
            _drop(fleet, unprivileged_user, k, items[k::2])
        for k in range(2):
            fleet.start(k)
        wait_for(lambda: (finished(dsn) or 0) >= 30, timeout=180, what="30 handoffs done")
        assert re.search(r"^database\s+ok$", _status(fleet), re.M)
        server.stop("fast")  # pg_ctl stop -m fast: every connection cut off
        down = _status(fleet)
        assert re.search(r"^database\s+unreachable since \S+ \(", down, re.M), down
        time.sleep(3)  # the instances find it gone, keep what they hold, back off
        for k, proc in enumerate(fleet.procs):
            assert proc is not None and proc.poll() is None, f"instance {k} died: " \
                + fleet.log_text()[-3000:]
        server._pg_ctl_start()  # the same port: pg_ctl restart, in two halves
        assert re.search(r"^database\s+ok$", _status(fleet), re.M)
        _wait_terminal(fleet, dsn, len(items), timeout=240)

        def back_in_every_log() -> bool:
            # An instance that failed often during the outage waits out its back-off
            # (up to 30 s) before it tries again, and says so when it has.
            for k in range(2):
                log = (fleet.base / f"instance{k}.log").read_text(errors="replace")
                if log.rfind("database reachable again") < log.rfind("database unreachable ("):
                    return False
            return True
        wait_for(back_in_every_log, timeout=60, what="every instance back on the database")
        fleet.stop_all()
        figures = verdict(dsn, [name for name, _ in items], fleet.layouts)
        assert ok(figures) and figures["done"] == len(items), figures
        for k in range(2):
            log = (fleet.base / f"instance{k}.log").read_text(errors="replace")
            # Said when it went and when it came back, the last word being that it is
            # back (each connector of the instance says so once per outage it sees).
            went, back = log.rfind("database unreachable ("), log.rfind("database reachable again")
            said = [line for line in log.splitlines() if "reachable" in line]
            assert went >= 0 and back > went, "\n".join(said)[-3000:]
            # Said once by the connector, not again by every rescan of the outage.
            assert "WARNING [actor=watcher] cannot scan the queue" not in log, log[-3000:]
    finally:
        server.destroy()


def test_a_local_file_ingested_before_a_crash_between_commit_and_unlink_makes_one_handoff(
        pg_database: Callable[..., str], make_fleet: Callable[..., PgFleet],
        unprivileged_user: AsUser) -> None:
    from repairlab.config import load_config
    from repairlab.state.pg.backend import PostgresBackend

    dsn = pg_database()
    fleet = make_fleet(dsn, 2)
    data = _handoff(1)
    # Instance 1 ingested queue/h.json and committed, then died before the unlink:
    # the file is still in its queue, the handoff already in the database.
    path = enqueue(fleet.layouts[1], data, "calc", "h.json")
    kept = path.with_name(".kept")
    shutil.copy2(path, kept)
    backend = PostgresBackend(load_config(fleet.configs[1]), "pge2e1")
    try:
        assert backend.ingest_file(path) is True
    finally:
        backend.close()
    kept.rename(path)
    assert scalar(dsn, "SELECT count(*) FROM handoffs") == 1
    done = fleet.run_py(1, "drain", "--timeout", "120", timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = verdict(dsn, ["h.json"], fleet.layouts)
    assert ok(figures) and figures["done"] == 1, figures
    assert scalar(dsn, "SELECT count(*) FROM handoffs") == 1
    assert scalar(dsn, "SELECT count(*) FROM events WHERE event = 'repaired'") == 1
    assert not path.exists()


def test_run_py_submit_goes_to_the_database_and_says_so_when_it_is_unreachable(
        pg_database: Callable[..., str], make_fleet: Callable[..., PgFleet],
        tmp_path: Path) -> None:
    dsn = pg_database()
    fleet = make_fleet(dsn, 2)
    name = _submit_dir(fleet, 1, 7, tmp_path)
    assert name.startswith("calc-") and name.endswith(".json")
    assert scalar(dsn, "SELECT count(*) FROM handoffs WHERE name = %s AND state = 'queued'",
                  name) == 1
    assert not list(fleet.layouts[1].queue.glob("*.json"))  # nothing in the local queue
    (fleet.base / "gone").mkdir()
    gone = PgFleet(fleet.base / "gone", re.sub(r"port=\d+", "port=1", dsn), 1)
    (tmp_path / "more").mkdir()
    for rel, text in PASSING.items():
        (tmp_path / "more" / rel).write_text(text)
    refused = gone.run_py(0, "submit", str(tmp_path / "more"), "--tool", "calc",
                          "--entrypoint", "calc.py")
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.startswith("run.py submit: database ") and "unreachable" in \
        refused.stderr and len(refused.stderr.strip().splitlines()) == 1, refused.stderr

