"""Backlog: N handoffs already queued when the daemon starts.

    .venv/bin/python bench/backlog.py [--quick] [--reps 3] [--handoffs 20000]

Each repetition fills `queue/` of a fresh state root with N small valid handoffs,
then starts the daemon in a child process (`_daemon_child.py`: every real actor,
2 workers, the repairers replaced by a STAND-IN that moves each claim straight to
done/) and lets it drain the lot. From the claim times (each claimed file's
ctime, read by the stand-in) it reports the time from the daemon's start (the
`Daemon(...)` call, after the imports) to the first claim, the claim rate over the
first 10,000 (or all, if fewer), and the peak RSS of the child: VmHWM, read by
the child as it stops (ru_maxrss from wait4 is shown too, but it also counts the
moment between fork and exec, when the child was a copy of this process).
"""

from __future__ import annotations

import argparse
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
    run_main,
    say,
    spread,
    state_dir,
    wait_until,
    write_files,
)


def one_run(root: Path, n: int) -> dict[str, float]:
    """Queue `n`, start the daemon, drain; the figures of this run."""
    data = handoff_bytes(passing_files(0))
    write_files(root / "queue", [(f"h{i:05d}.json", data) for i in range(n)])
    with ChildDaemon(root, "standin") as child:
        wait_until(lambda: count_entries(root / "processed" / "done") >= n or not child.alive(),
                   60 + n / 100, poll=0.1)
        child.check()
    results = child.results
    ctimes = sorted(c for c, _ in results["claimed"].values())
    if len(ctimes) != n:
        raise RuntimeError(f"{len(ctimes)} claims for {n} handoffs")
    first = ctimes[0] / 1e9
    k = min(10_000, n)
    return {
        "first_s": first - results["constructed"],
        "first_from_spawn_s": first - child.spawned,
        "rate": (k - 1) / ((ctimes[k - 1] - ctimes[0]) / 1e9),
        "hwm_mb": results["vmhwm_kb"] / 1024,
        "maxrss_mb": child.maxrss_kb / 1024,
        "k": k,
    }


def measure(args: argparse.Namespace) -> list[Row]:
    """`args.reps` runs; medians."""
    n = 500 if args.quick else args.handoffs
    runs = []
    with state_dir(args.dir, "backlog") as base:
        say(f"backlog: {n} handoffs queued before start x {args.reps} repetitions; daemon in "
            f"a child process, 2 workers, STAND-IN repairer (moves each claim to done/)")
        say(describe(base))
        for rep in range(args.reps):
            started = time.monotonic()
            runs.append(one_run(base / f"root{rep}", n))
            r = runs[-1]
            say(f"  rep {rep + 1}: first claim {r['first_s'] * 1000:.0f} ms after Daemon() "
                f"({r['first_from_spawn_s'] * 1000:.0f} ms after spawn), {r['rate']:.0f} "
                f"claims/s over the first {r['k']}, peak RSS {r['hwm_mb']:.1f} MB (ru_maxrss "
                f"{r['maxrss_mb']:.1f} MB); drained in {time.monotonic() - started:.1f} s")
    first = [r["first_s"] * 1000 for r in runs]
    spawn = [r["first_from_spawn_s"] * 1000 for r in runs]
    rate = [r["rate"] for r in runs]
    rss = [r["hwm_mb"] for r in runs]
    how = f"{n} queued at start, stand-in repairer"
    return [
        Row("3 backlog: first claim", f"{median(first):.0f} ms", "≤ 1 s",
            median(first) <= 1000,
            f"{how}; from Daemon(); {spread(first, '{:.0f}')} ms; from process spawn "
            f"{median(spawn):.0f} ms"),
        Row(f"3 backlog: claims/s, first {runs[0]['k']}", f"{median(rate):.0f} /s",
            note=f"{how}; {spread(rate, '{:.0f}')}"),
        Row("3 backlog: peak RSS", f"{median(rss):.1f} MB", "≤ 200 MB", median(rss) <= 200,
            f"{how}; VmHWM of the daemon process; {spread(rss)} MB; ru_maxrss "
            f"{median([r['maxrss_mb'] for r in runs]):.1f} MB counts the fork before exec"),
    ]


def _options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--handoffs", type=int, default=20_000, help="handoffs queued at start")


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print the table."""
    return run_main(__doc__, 3, measure, argv, _options)


if __name__ == "__main__":
    sys.exit(main())
