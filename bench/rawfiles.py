"""Raw file limit: the file operations of one handoff, in a plain loop, on the same disk.

    .venv/bin/python bench/rawfiles.py [--quick] [--reps 3] [--handoffs 2000]

Per handoff, on 2 threads (as the daemon's 2 workers): rename `queue/NAME` into
`claims/`, read it, SHA-256 it, write the result to a temporary file, fsync it,
rename it into `challengers/`, fsync that directory, rename the handoff to
`done/`. No JSON, no actors, no repair: what the disk and the kernel allow, the
ceiling for measure 1 (whose handoffs are the same size).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import os
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    Row,
    describe,
    handoff_bytes,
    median,
    passing_files,
    run_main,
    say,
    spread,
    state_dir,
    write_files,
)

WORKERS = 2


def one_run(root: Path, n: int) -> float:
    """Handoffs per second through the plain file operations."""
    names = [f"h{i:05d}.json" for i in range(n)]
    write_files(root / "queue", [(name, handoff_bytes(passing_files(i)))
                                 for i, name in enumerate(names)])
    for place in ("claims", "challengers", "done"):
        (root / place).mkdir()
    next_index = itertools.count()

    def work() -> None:
        challengers = root / "challengers"
        dir_fd = os.open(challengers, os.O_RDONLY | os.O_DIRECTORY)
        try:
            while (i := next(next_index)) < n:
                name = names[i]
                claimed = root / "claims" / name
                os.rename(root / "queue" / name, claimed)
                data = claimed.read_bytes()
                digest = hashlib.sha256(data).hexdigest()
                tmp = challengers / f".{name}.tmp"
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                try:
                    os.write(fd, data)
                    os.fsync(fd)
                finally:
                    os.close(fd)
                os.rename(tmp, challengers / f"challenger_{digest[:12]}_{name}")
                os.fsync(dir_fd)
                os.rename(claimed, root / "done" / name)
        finally:
            os.close(dir_fd)

    threads = [threading.Thread(target=work) for _ in range(WORKERS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return n / (time.perf_counter() - started)


def measure(args: argparse.Namespace) -> list[Row]:
    """`args.reps` runs; the median rate."""
    n = 200 if args.quick else args.handoffs
    rates = []
    with state_dir(args.dir, "rawfiles") as base:
        say(f"raw files: {n} handoffs x {args.reps} repetitions, {WORKERS} threads: rename, "
            f"read, sha256, write, fsync, rename, fsync dir, rename")
        say(describe(base))
        for rep in range(args.reps):
            rates.append(one_run(base / f"root{rep}", n))
            say(f"  rep {rep + 1}: {rates[-1]:.0f} handoffs/s")
    return [Row("5 raw file ops ceiling", f"{median(rates):.0f} handoffs/s",
                note=f"{n} handoffs, {WORKERS} threads, same disk as 1; "
                     f"{spread(rates, '{:.0f}')}")]


def _options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--handoffs", type=int, default=2000, help="handoffs per repetition")


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print the table."""
    return run_main(__doc__, 3, measure, argv, _options)


if __name__ == "__main__":
    sys.exit(main())
