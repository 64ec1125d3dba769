"""Latency: a handoff's rename into `queue/` to its claim, and to its challenger.

    .venv/bin/python bench/latency.py [--quick] [--reps 3] [--handoffs 1000] [--every-ms 20]
        [--challengers 100] [--challenger-every-ms 250]

Drop to challenger: the daemon in a child process with everything real (2 workers,
the real repairers, engine and warm sandboxed runner, `strategies = ["noop"]`), one
distinct passing handoff dropped every `--challenger-every-ms` (so each finds the
daemon idle). The challenger's time is the ctime of its file in `challengers/`
(set by the rename that publishes it, and by the index link right after), matched
to its handoff by `handoff_name`; the drop time is taken as below. This is the
whole path: claim, first test run, challenger written and published.

Drop to claim:

The daemon runs in a child process (`_daemon_child.py`: every real actor, 2
workers, the repairers replaced by a stand-in that moves each claim straight to
done/, so that workers are never the bottleneck). This process drops N handoffs
one at a time, one every `--every-ms` (writes `queue/.NAME.tmp`, then renames it
to `queue/NAME.json`, taking the wall clock just before the rename).

Method (nothing in the daemon is instrumented): a claim is a rename into
`claims/<instance>/`, and a rename sets the file's ctime, so the claim time is the
claimed file's ctime, which the stand-in reads (lstat) before moving the file on.
The producer stats each file right after dropping it, so that the kernel stamps
the claim's ctime with the fine clock rather than the coarse tick (multigrain
timestamps); on an older kernel the ctime may read up to one tick early. The
stand-in's own receipt time (the claim plus the message to the repairer) is
shown too, as an upper bound.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    ChildDaemon,
    Row,
    count_entries,
    describe,
    handoff_bytes,
    median,
    passing_files,
    percentile,
    run_main,
    say,
    spread,
    state_dir,
    wait_until,
)


def one_run(root: Path, n: int, every: float) -> tuple[list[float], list[float]]:
    """Drop `n` handoffs at a steady pace; (claim latencies, receipt latencies) in ms."""
    data = handoff_bytes(passing_files(0))
    queue = root / "queue"
    dropped: dict[str, int] = {}
    with ChildDaemon(root, "standin") as child:
        time.sleep(0.5)  # let start-up work (first prune, first scan) finish
        start = time.monotonic()
        for i in range(n):
            target = start + i * every
            pause = target - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            name = f"h{i:05d}.json"
            tmp = queue / f".{name}.tmp"
            tmp.write_bytes(data)
            dropped[name] = time.time_ns()
            os.rename(tmp, queue / name)
            try:
                os.stat(queue / name)  # see the module doc: fine-grained ctime for the claim
            except FileNotFoundError:
                pass
        done = root / "processed" / "done"
        wait_until(lambda: count_entries(done) >= n or not child.alive(), 60)
        child.check()
        if count_entries(done) < n:
            raise RuntimeError("not every handoff was claimed")
    claimed = child.results["claimed"]
    claim_ms = [(claimed[k][0] - t) / 1e6 for k, t in dropped.items()]
    got_ms = [(claimed[k][1] - t) / 1e6 for k, t in dropped.items()]
    return claim_ms, got_ms


def challenger_run(root: Path, n: int, every: float) -> list[float]:
    """Drop `n` passing handoffs into an idle daemon, one every `every` seconds; the
    latencies from each drop to its challenger file, in ms."""
    queue = root / "queue"
    dropped: dict[str, int] = {}
    sections = {"repair": {"workers": 2, "strategies": ["noop"]}}
    with ChildDaemon(root, "real", sections) as child:
        time.sleep(1.0)  # start-up work (first prune, first scan, warm runners)
        start = time.monotonic()
        for i in range(n):
            pause = start + i * every - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            name = f"c{i:05d}.json"
            tmp = queue / f".{name}.tmp"
            tmp.write_bytes(handoff_bytes(passing_files(100_000 + i)))
            dropped[name] = time.time_ns()
            os.rename(tmp, queue / name)
        challengers = root / "challengers"
        wait_until(lambda: count_entries(challengers) >= n or not child.alive(), 120)
        child.check()
        published: dict[str, int] = {}
        for entry in os.scandir(challengers):
            if entry.name.startswith("challenger_"):
                data = json.loads(Path(entry.path).read_bytes())
                published[str(data.get("handoff_name"))] = entry.stat().st_ctime_ns
    missing = set(dropped) - set(published)
    if missing:
        raise RuntimeError(f"{len(missing)} handoffs got no challenger")
    return [(published[k] - t) / 1e6 for k, t in dropped.items()]


def measure(args: argparse.Namespace) -> list[Row]:
    """`args.reps` runs; p50 and p99 of each, medians over the runs."""
    n = 30 if args.quick else args.handoffs
    every = args.every_ms / 1000
    p50s: list[float] = []
    p99s: list[float] = []
    got50: list[float] = []
    got99: list[float] = []
    with state_dir(args.dir, "latency") as base:
        say(f"latency: {n} handoffs dropped one every {args.every_ms:g} ms x {args.reps} "
            f"repetitions; daemon in a child process, 2 workers, STAND-IN repairer (moves "
            f"each claim to done/ at once)")
        say(describe(base))
        say("method: claim = ctime of the claimed file (rename sets it) minus the wall "
            "clock just before the producer's rename into queue/")
        for rep in range(0 if args.only_challenger else args.reps):
            claim_ms, got_ms = one_run(base / f"root{rep}", n, every)
            p50s.append(percentile(claim_ms, 50))
            p99s.append(percentile(claim_ms, 99))
            got50.append(percentile(got_ms, 50))
            got99.append(percentile(got_ms, 99))
            say(f"  rep {rep + 1}: claim p50 {p50s[-1]:.2f} ms, p99 {p99s[-1]:.2f} ms, "
                f"max {max(claim_ms):.2f} ms; at the repairer p50 {got50[-1]:.2f} ms, "
                f"p99 {got99[-1]:.2f} ms")
        c50: list[float] = []
        c99: list[float] = []
        m = 20 if args.quick else args.challengers
        say(f"drop to challenger: {m} passing handoffs, one every {args.challenger_every_ms:g} "
            "ms; daemon in a child process, 2 workers, the REAL repairers, engine and "
            "sandboxed runner (noop)")
        for rep in range(args.reps):
            ms = challenger_run(base / f"croot{rep}", m, args.challenger_every_ms / 1000)
            c50.append(percentile(ms, 50))
            c99.append(percentile(ms, 99))
            say(f"  rep {rep + 1}: challenger p50 {c50[-1]:.1f} ms, p99 {c99[-1]:.1f} ms, "
                f"max {max(ms):.1f} ms")
    how = f"{n} drops every {args.every_ms:g} ms, stand-in repairer"
    chow = f"{m} drops every {args.challenger_every_ms:g} ms, real engine and runner"
    rows = [
        Row("2 latency: drop→challenger p50", f"{median(c50):.1f} ms", "≤ 50 ms",
            median(c50) <= 50, f"{chow}; {spread(c50, '{:.1f}')} ms"),
        Row("2 latency: drop→challenger p99", f"{median(c99):.1f} ms", "≤ 150 ms",
            median(c99) <= 150, f"{chow}; {spread(c99, '{:.1f}')} ms"),
    ]
    if args.only_challenger:
        return rows
    return [*rows,
        Row("2 latency: rename→claim p50", f"{median(p50s):.2f} ms", "≤ 20 ms",
            median(p50s) <= 20, f"{how}; {spread(p50s, '{:.2f}')} ms"),
        Row("2 latency: rename→claim p99", f"{median(p99s):.2f} ms", "≤ 100 ms",
            median(p99s) <= 100, f"{how}; {spread(p99s, '{:.2f}')} ms"),
        Row("2 latency: rename→repairer p50/p99", f"{median(got50):.2f} / {median(got99):.2f} ms",
            note="upper bound: claim plus the message to the stand-in repairer"),
    ]


def _options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--handoffs", type=int, default=1000, help="handoffs per repetition")
    p.add_argument("--every-ms", type=float, default=20.0, help="pace of the drops")
    p.add_argument("--only-challenger", action="store_true",
                   help="skip the drop-to-claim measurement")
    p.add_argument("--challengers", type=int, default=100,
                   help="handoffs per repetition, drop to challenger")
    p.add_argument("--challenger-every-ms", type=float, default=250.0,
                   help="pace of those drops (each should find the daemon idle)")


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print the table."""
    return run_main(__doc__, 3, measure, argv, _options)


if __name__ == "__main__":
    sys.exit(main())
