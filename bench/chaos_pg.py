"""Chaos on PostgreSQL: N instances on N hosts' state roots, one database, random
SIGKILLs and one database restart (issue 15; SPEC §9).

    .venv/bin/python bench/chaos.py --backend postgres [--instances 3] [--handoffs 2000]

(or this file directly, with the same options). It starts its own throwaway
PostgreSQL (`tests/pg_server.py`: `initdb`/`pg_ctl` as the `postgres` user on a
free loopback port), creates a database, runs `run.py migrate`, then starts N
`run.py run` instances (ids pgchaos0..), each with a state root of its own (as
if on its own host) and `[backend] kind = "postgres"`. The handoffs of
`bench/chaos.py`'s workload (passing, fixable, hopeless, corrupt) are dropped
into the instances' local `queue/` directories in turn, and some are handed in
with `run.py submit` (straight to the database). While they run it SIGKILLs a
random instance now and then and starts it again under the same id, and
restarts the database once (`pg_ctl restart -m fast`) when about a third are
finished. At the end it checks, in the database and in every root:

- lost: a handoff handed in that is not in a terminal state (done, hard_fail,
  corrupt) in the database, nor anywhere else;
- doubled: a handoff handed in that is more than one row (ingested twice), or
  whose terminal event (`repaired`, `quarantined`, `corrupt`) was recorded
  more than once;
- duplicate challengers: more than one challenger for one (bundle_sha256,
  repaired_sha256);
- left in a local queue, and local metrics lines that do not parse.

Exit 0 only when all of those are 0. Every process it starts is in its own
process group and is killed by that group's id, never by name.

`PgFleet`, `write_pg_config` and `verdict` are used by `tests/test_pg_daemon.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # pg_server.py
sys.path.insert(0, str(REPO / "bench"))  # chaos.py's workload

from chaos import Processes  # noqa: E402

from repairlab.cli.submit import enqueue  # noqa: E402
from repairlab.state.layout import Layout  # noqa: E402

# The fault points of the filesystem's moves do not exist on PostgreSQL; actor
# crashes do (a repairer or telemetry dying with work in hand).
PG_FAULTS = "actor.repairer=crash@0.003,actor.telemetry=crash@0.002"
TERMINAL = ("done", "hard_fail", "corrupt")
TERMINAL_EVENTS = ("repaired", "quarantined", "corrupt")


def write_pg_config(root: Path, instance: str, dsn: str, path: Path, *, lease: float = 3,
                    workers: int = 2, strategies: list[str] | None = None,
                    max_failures: int = 3, extra: str = "") -> Path:
    """The config file of one instance: its own root, the shared database."""
    reference = os.environ.get("REPAIRLAB_RUNNER") == "subprocess"
    chosen = "" if strategies is None else f"strategies = {json.dumps(strategies)}\n"
    path.write_text(
        f'[paths]\nroot = "{root}"\n[instance]\nid = "{instance}"\nlease_seconds = {lease}\n'
        f'[backend]\nkind = "postgres"\ndsn = "{dsn}"\n'
        f"[failure_window]\nmax_failures = {max_failures}\n"
        "[backoff]\nbase_seconds = 0.2\nmax_seconds = 1\n"
        f"[repair]\nworkers = {workers}\ntest_timeout_seconds = 10\n"
        f"bundle_timeout_seconds = 60\n{chosen}"
        "[watch]\nrescan_seconds = 1\nheartbeat_seconds = 0.5\n"
        "[supervisor]\nmax_restarts = 5\nperiod_seconds = 30\n"
        + ("[sandbox]\nrequire = false\n" if reference else "") + extra)
    return path


class PgFleet(Processes):
    """`count` instances, instance k over `base/rootK` with config `base/pgK.toml`:
    start, SIGKILL (by process group), start again, stop with SIGTERM.
    `popen` are extra keyword arguments of Popen (e.g. to run as another user)."""

    def __init__(self, base: Path, dsn: str, count: int, *, prefix: str = "pgchaos",
                 faults: str = "", seed: int = 1, popen: Callable[[int], dict[str, Any]]
                 | None = None, **config: Any) -> None:
        self.base, self.dsn, self.faults, self.seed = base, dsn, faults, seed
        self.popen = popen or (lambda k: {})
        self.roots = [base / f"root{k}" for k in range(count)]
        self.layouts = [Layout.at(root) for root in self.roots]
        self.configs = [write_pg_config(root, f"{prefix}{k}", dsn, base / f"pg{k}.toml",
                                        **config) for k, root in enumerate(self.roots)]
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * count
        self.starts = self.kills = self.exits_nonzero = 0

    def run_py(self, k: int, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """`run.py ARGV --config <instance k's>`, as that instance's user."""
        return subprocess.run(
            [sys.executable, str(REPO / "run.py"), *argv, "--config", str(self.configs[k])],
            capture_output=True, text=True, timeout=timeout, env=self._env(),
            stdin=subprocess.DEVNULL, cwd=str(self.base), **self.popen(k))

    def _env(self) -> dict[str, str]:
        env = {key: v for key, v in os.environ.items() if not key.startswith("REPAIRLAB_")}
        if os.environ.get("REPAIRLAB_RUNNER"):
            env["REPAIRLAB_RUNNER"] = os.environ["REPAIRLAB_RUNNER"]
        return env

    def start(self, k: int) -> None:
        env = self._env()
        if self.faults:
            env["REPAIRLAB_FAULTS"] = self.faults
            env["REPAIRLAB_FAULTS_SEED"] = str(self.seed * 1000 + self.starts)
        with open(self.base / f"instance{k}.log", "ab") as log:
            self.procs[k] = subprocess.Popen(
                [sys.executable, str(REPO / "run.py"), "run", "--config", str(self.configs[k])],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env,
                start_new_session=True, cwd=str(self.base), **self.popen(k))
        self.starts += 1


    def log_text(self) -> str:
        return "\n".join((self.base / f"instance{k}.log").read_text(errors="replace")
                         for k in range(len(self.procs))
                         if (self.base / f"instance{k}.log").exists())


def scalar(dsn: str, sql: str, *params: Any) -> Any:
    import psycopg

    with psycopg.connect(dsn, connect_timeout=5) as conn:
        row = conn.execute(sql, params or None).fetchone()
        return None if row is None else row[0]


def finished(dsn: str) -> int | None:
    """How many handoffs are terminal in the database; None while it is away."""
    import psycopg

    try:
        return int(scalar(dsn, "SELECT count(*) FROM handoffs WHERE state = ANY(%s)",
                          list(TERMINAL)))
    except psycopg.Error:
        return None


def queued_locally(layouts: Sequence[Layout]) -> int:
    total = 0
    for layout in layouts:
        try:
            total += sum(1 for n in os.listdir(layout.queue)
                         if n.endswith(".json") and not n.startswith("."))
        except FileNotFoundError:
            pass
    return total


def verdict(dsn: str, submitted: Sequence[str], layouts: Sequence[Layout]) -> dict[str, int]:
    """The figures of the check (see the module doc), from the database and the roots."""
    import psycopg

    with psycopg.connect(dsn, connect_timeout=5) as conn:
        rows = conn.execute("SELECT name, state FROM handoffs").fetchall()
        events = conn.execute(
            "SELECT line->>'handoff', count(*) FROM events WHERE event = ANY(%s) "
            "GROUP BY 1 HAVING count(*) > 1", [list(TERMINAL_EVENTS)]).fetchall()
        dup_challengers = conn.execute(
            "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM challengers "
            "GROUP BY bundle_sha256, repaired_sha256) AS c").fetchone()[0]  # type: ignore[index]
        challengers = conn.execute("SELECT count(*) FROM challengers").fetchone()[0]  # type: ignore[index]
        fresh = conn.execute(
            "SELECT count(*) FROM events WHERE event = 'repaired' "
            "AND NOT coalesce((line->>'duplicate')::boolean, false)").fetchone()[0]  # type: ignore[index]
    states: dict[str, list[str]] = {}
    for name, state in rows:
        states.setdefault(name, []).append(state)
    wanted = set(submitted)
    bad_lines = 0
    for layout in layouts:
        try:
            raw = layout.metrics.read_bytes()
        except FileNotFoundError:
            continue
        for line in raw.splitlines():
            try:
                json.loads(line)
            except ValueError:
                bad_lines += 1
    by_state = {s: sum(1 for n in wanted for x in states.get(n, []) if x == s) for s in TERMINAL}
    return {
        "handoffs in": len(submitted),
        **by_state,
        "lost": sum(1 for n in wanted if not any(s in TERMINAL for s in states.get(n, []))),
        "doubled (two rows)": sum(1 for n in wanted if len(states.get(n, [])) > 1),
        "doubled (terminal event twice)": len(events),
        "rows not handed in": sum(1 for n in states if n not in wanted),
        "duplicate challengers": int(dup_challengers),
        "challengers": int(challengers),
        "fresh repaired events": int(fresh),
        "left in a local queue": queued_locally(layouts),
        "local metrics lines that fail to parse": bad_lines,
    }


MUST_BE_ZERO = ("lost", "doubled (two rows)", "doubled (terminal event twice)",
                "rows not handed in", "duplicate challengers", "left in a local queue",
                "local metrics lines that fail to parse")


def ok(figures: dict[str, int]) -> bool:
    return all(figures[k] == 0 for k in MUST_BE_ZERO) \
        and figures["challengers"] == figures["fresh repaired events"]


def submit_dir(fleet: PgFleet, k: int, data: bytes, work: Path) -> str:
    """Hand a passing handoff in with `run.py submit` (its files unpacked into a
    directory); the name it was queued as in the database."""
    doc = json.loads(data)
    directory = Path(tempfile.mkdtemp(prefix="submit-", dir=work))
    for rel, text in doc["files"].items():
        (directory / rel).parent.mkdir(parents=True, exist_ok=True)
        (directory / rel).write_text(text)
    directory.chmod(0o755)
    for p in directory.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    for _ in range(10):  # the database may be restarting: submit says so and queues nothing
        done = fleet.run_py(k, "submit", str(directory), "--tool", doc["tool"],
                            "--entrypoint", doc["entrypoint"], "--lineage", "chaos-submit")
        if done.returncode == 0:
            break
        time.sleep(1)
    else:
        raise RuntimeError(f"run.py submit failed: {done.stderr[-1500:]}")
    shutil.rmtree(directory, ignore_errors=True)
    return done.stdout.strip().splitlines()[-1]


def main(argv: Sequence[str] | None = None) -> int:
    from chaos import workload
    from pg_server import PgServer, PgUnavailable

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="postgres", choices=["postgres"])
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--handoffs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kill-every", type=float, default=4.0,
                        help="mean seconds between SIGKILLs")
    parser.add_argument("--submit-every", type=int, default=50,
                        help="one passing handoff in N goes in by `run.py submit`")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--no-faults", action="store_true", help="no injected actor crashes")
    parser.add_argument("--keep", action="store_true", help="keep the roots and the logs")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="repairlab-pgchaos-"))
    server = PgServer()
    try:
        server.start()
    except PgUnavailable as exc:
        print(f"chaos --backend postgres: {exc}", file=sys.stderr)
        return 2
    started = time.monotonic()
    fleet: PgFleet | None = None
    try:
        import psycopg

        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE chaos")
        dsn = server.dsn("chaos")
        faults = "" if args.no_faults else PG_FAULTS
        fleet = PgFleet(work, dsn, args.instances, faults=faults, seed=args.seed)
        migrated = fleet.run_py(0, "migrate")
        print(f"  run.py migrate: {migrated.stdout.strip() or migrated.stderr.strip()}")
        if migrated.returncode != 0:
            return 1
        for layout in fleet.layouts:
            layout.ensure()
        for k in range(args.instances):
            fleet.start(k)
        items = workload(args.handoffs, rng)
        submitted: list[str] = []
        via_submit = 0
        restarted_at: float | None = None
        next_kill = time.monotonic() + rng.expovariate(1 / args.kill_every)
        last_report = 0.0
        pending = list(enumerate(items))
        while time.monotonic() - started < args.timeout:
            # Hand in a slice of the work each round, so kills hit a fleet that is
            # both ingesting and repairing.
            for _ in range(min(len(pending), 60)):
                i, (name, data) = pending.pop(0)
                k = i % args.instances
                passing = data.startswith(b"{") and b"chaos-pass" in data
                if passing and i % args.submit_every == 0:
                    submitted.append(submit_dir(fleet, k, data, work))
                    via_submit += 1
                else:
                    enqueue(fleet.layouts[k], data, "chaos", name)
                    submitted.append(name)
            done = finished(dsn)
            now = time.monotonic()
            if now - last_report > 5:
                last_report = now
                print(f"  {now - started:6.1f}s  terminal {done}/{len(items)}  kills "
                      f"{fleet.kills}  starts {fleet.starts}  db restarts "
                      f"{0 if restarted_at is None else 1}", flush=True)
            if restarted_at is None and done is not None and done >= len(items) // 3:
                server.restart("fast")
                restarted_at = now - started
                print(f"  {restarted_at:6.1f}s  database restarted (pg_ctl restart -m fast)",
                      flush=True)
            if not pending and done is not None and done >= len(items) \
                    and queued_locally(fleet.layouts) == 0:
                break
            if now >= next_kill:
                next_kill = fleet.kill_one(rng, args.kill_every)
            fleet.revive_dead()
            time.sleep(0.2)
        codes = fleet.stop_all()
        wall = time.monotonic() - started
        figures = verdict(dsn, submitted, fleet.layouts)
        figures["handed in by run.py submit"] = via_submit
        figures["kills survived"] = fleet.kills
        figures["instance starts"] = fleet.starts
        figures["instance exits non-zero (supervisor gave up)"] = fleet.exits_nonzero
        figures["exit codes at the final SIGTERM"] = codes  # type: ignore[assignment]
        logs = fleet.log_text()
        figures["'database unreachable' log lines"] = logs.count("database unreachable (")
        figures["'database reachable again' log lines"] = logs.count("database reachable again")
        print(f"\nchaos --backend postgres: {args.instances} instances, {args.handoffs} "
              f"handoffs, seed {args.seed}, faults {faults or 'none'}, one database restart "
              f"at {restarted_at if restarted_at is not None else float('nan'):.1f}s")
        for key, value in figures.items():
            print(f"  {key:<46} {value}")
        print(f"  {'wall time':<46} {wall:.1f}s")
        good = ok(figures) and restarted_at is not None
        print("  verdict: " + ("OK" if good else "FAILED"))
        if args.keep:
            print(f"  roots and logs kept at {work}")
        return 0 if good else 1
    finally:
        if fleet is not None:
            fleet.stop_all(timeout=30)
        server.destroy()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
