"""Latency: a handoff's rename into `queue/` to its claim, one at a time at a steady pace.

    .venv/bin/python bench/latency.py [--quick] [--reps 3] [--handoffs 1000] [--every-ms 20]

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
        for rep in range(args.reps):
            claim_ms, got_ms = one_run(base / f"root{rep}", n, every)
            p50s.append(percentile(claim_ms, 50))
            p99s.append(percentile(claim_ms, 99))
            got50.append(percentile(got_ms, 50))
            got99.append(percentile(got_ms, 99))
            say(f"  rep {rep + 1}: claim p50 {p50s[-1]:.2f} ms, p99 {p99s[-1]:.2f} ms, "
                f"max {max(claim_ms):.2f} ms; at the repairer p50 {got50[-1]:.2f} ms, "
                f"p99 {got99[-1]:.2f} ms")
    how = f"{n} drops every {args.every_ms:g} ms, stand-in repairer"
    return [
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


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print the table."""
    return run_main(__doc__, 3, measure, argv, _options)


if __name__ == "__main__":
    sys.exit(main())
