"""Memory over time: RSS of the daemon after 10,000 and after 100,000 events.

    .venv/bin/python bench/memory.py [--quick] [--reps 1] [--events 100000]

The daemon runs in a child process (`_daemon_child.py`) with every real actor,
the real repairer and the real repair engine, but a STAND-IN test runner that
judges a bundle by its text instead of running pytest (no child processes). This
process keeps `queue/` topped up with a mix of handoffs: 70% passing (a challenger
each), 10% duplicates of a recent one, 15% hopeless (three failures with backoff,
then quarantine: failure window and quarantine at work), 5% corrupt. Pruning
runs every second (`PruneNow`) with a 5-second TTL and metrics rotation past
4 MB, so done/, challengers/, hard_fail/, corrupt/, failure records and rotated
metrics files come and go as they would over months. An event is one metrics line
(`repaired`, `repair_failed`, `quarantined`, `corrupt`, `pruned`); RSS is the
child's VmRSS when the count passes each mark. The state root goes to /dev/shm
(tmpfs) unless `--dir` says otherwise: memory does not depend on the disk, and
on tmpfs 100,000 events take 3 minutes instead of 7 (durable writes fsync).
"""

from __future__ import annotations

import argparse
import os
import signal
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
    failing_files,
    handoff_bytes,
    median,
    passing_files,
    proc_status_kb,
    run_main,
    say,
    spread,
    state_dir,
)

SECTIONS = {
    "repair": {"workers": 2, "strategies": ["noop"]},
    "backoff": {"base_seconds": 0.05, "max_seconds": 0.2},
    "prune": {"ttl_seconds": 5, "metrics_max_bytes": 4 * 1024 * 1024},
}


def handoff(i: int) -> bytes:
    """The i-th handoff of the mix."""
    kind = i % 20
    if kind < 14:
        return handoff_bytes(passing_files(i))
    if kind < 16:
        return handoff_bytes(passing_files(max(0, i - 20)))  # a duplicate of a recent one
    if kind < 19:
        return handoff_bytes(failing_files(i))
    return b'{"schema": "repairlab.handoff/1", "tool": '  # corrupt: cut short


class EventCounter:
    """Counts lines over `metrics.jsonl` and its rotated files as they grow."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.seen: dict[int, int] = {}  # inode -> bytes counted
        self.count = 0

    def poll(self) -> int:
        """Count the lines added since the last poll."""
        for entry in os.scandir(self.root):
            if not entry.name.startswith("metrics.jsonl"):
                continue
            try:
                with open(entry.path, "rb") as fh:
                    ino = os.fstat(fh.fileno()).st_ino
                    fh.seek(self.seen.get(ino, 0))
                    chunk = fh.read()
            except FileNotFoundError:
                continue
            end = chunk.rfind(b"\n") + 1
            self.count += chunk.count(b"\n", 0, end)
            self.seen[ino] = self.seen.get(ino, 0) + end
        return self.count


def one_run(root: Path, events: int, marks: list[int]) -> dict[int, float]:
    """Feed handoffs until `events` metrics lines; VmRSS (MB) at each mark."""
    queue = root / "queue"
    queue.mkdir(parents=True, exist_ok=True)
    rss: dict[int, float] = {}
    counter = EventCounter(root)
    i = 0
    started = time.monotonic()
    with ChildDaemon(root, "trivial", SECTIONS, prune_every=1.0) as child:
        pending = list(marks)
        while pending:
            child.check()
            if count_entries(queue) < 200:
                for _ in range(100):
                    tmp = queue / f".m{i:07d}.tmp"
                    tmp.write_bytes(handoff(i))
                    os.rename(tmp, queue / f"m{i:07d}.json")
                    i += 1
            time.sleep(0.05)
            count = counter.poll()
            while pending and count >= pending[0]:
                rss[pending.pop(0)] = proc_status_kb("VmRSS", child.pid) / 1024
                if os.environ.get("BENCH_OBJECTS"):
                    os.kill(child.pid, signal.SIGUSR2)  # the child counts its objects
                if os.environ.get("BENCH_TRACEMALLOC"):
                    os.kill(child.pid, signal.SIGUSR1)  # the child's tracemalloc snapshots
                say(f"    {count} events ({i} handoffs fed, "
                    f"{time.monotonic() - started:.0f} s): VmRSS {rss[max(rss)]:.1f} MB")
    return rss


def measure(args: argparse.Namespace) -> list[Row]:
    """`args.reps` runs; growth from the first mark to the last."""
    total = 1_000 if args.quick else args.events
    first = total // 10
    marks = [first * k for k in range(1, 11)]
    growth: list[float] = []
    at_first: list[float] = []
    at_last: list[float] = []
    at_half: list[float] = []
    # Memory does not depend on the disk; tmpfs only saves minutes of fsyncs.
    where = args.dir or ("/dev/shm" if os.path.isdir("/dev/shm") else None)
    with state_dir(where, "memory") as base:
        say(f"memory: {total} events x {args.reps} repetition(s); daemon in a child process, "
            f"real actors and repair engine, STAND-IN test runner (judges the bundle's text, "
            f"runs no pytest); prune every 1 s, TTL 5 s")
        say(describe(base))
        for rep in range(args.reps):
            rss = one_run(base / f"root{rep}", total, marks)
            at_first.append(rss[first])
            at_half.append(rss[total // 2])
            at_last.append(rss[total])
            growth.append(rss[total] / rss[first] - 1)
            say(f"  rep {rep + 1}: VmRSS {rss[first]:.1f} MB at {first}, {rss[total]:.1f} MB "
                f"at {total}: growth {growth[-1]:+.1%}")
    how = f"{total} events, stand-in test runner"
    g = median(growth)
    return [
        Row(f"4 memory: RSS at {first} / {total}",
            f"{median(at_first):.1f} / {median(at_last):.1f} MB",
            note=f"{how}; at {total // 2}: {median(at_half):.1f} MB (after warm-up: "
                 f"{median(at_last) / median(at_half) - 1:+.1%} from there to {total})"),
        Row("4 memory: growth", f"{g:+.1%}", "≤ 10%", g <= 0.10,
            f"{how}; {spread([x * 100 for x in growth])} %"),
    ]


def _options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--events", type=int, default=100_000, help="events in all")


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print the table."""
    return run_main(__doc__, 1, measure, argv, _options)


if __name__ == "__main__":
    sys.exit(main())
