"""Benchmark: `Backend.events` on the filesystem, a scraper's incremental read.

    .venv/bin/python bench/event_tail.py             # a 50 MiB metrics.jsonl
    .venv/bin/python bench/event_tail.py --mib 5     # smaller

Writes a metrics file of daemon-like `repaired` lines in a temporary state root,
then times: the first read (cursor None: the whole file), a poll with nothing
new (the median of 1,000; one stat), a poll after one line was appended, and a
poll after a rotation and one line more. For each it prints the bytes the process
read (`rchar` of /proc/self/io, where there is one). Exit 0; 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import msgspec

from repairlab.config import load_config
from repairlab.messages.records import MetricLine, rfc3339
from repairlab.state.fs_reads import FilesystemReads
from repairlab.state.layout import Layout
from repairlab.state.metrics import MetricsLog, rotate_metrics


def _rchar() -> int | None:
    try:
        with open("/proc/self/io") as fh:
            for row in fh:
                if row.startswith("rchar:"):
                    return int(row.split()[1])
    except OSError:
        pass
    return None


def _read_bytes(before: int | None) -> str:
    after = _rchar()
    return "-" if before is None or after is None else f"{after - before:,} B read"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mib", type=float, default=50.0, help="size of metrics.jsonl")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "state"
        config = load_config(None, overrides={"paths": {"root": str(root)},
                                              "instance": {"id": "bench"}})
        Layout.from_config(config).ensure()
        reads = FilesystemReads.for_config(config, "bench")
        sample = MetricLine(ts=rfc3339(time.time()), event="repaired", instance="bench",
                            meta_repair=True, bundle_sha256="a" * 64, tool="calc",
                            lineage="alpha", repair_strategy="noop", repair_attempts=0,
                            duration_s=0.5, handoff="x.json", challenger="challenger_x.json")
        line = msgspec.json.encode(sample) + b"\n"
        count = int(args.mib * (1 << 20)) // len(line) + 1
        reads.layout.metrics.write_bytes(line * count)
        size = reads.layout.metrics.stat().st_size

        before, start = _rchar(), time.perf_counter()
        lines, cursor = reads.events(None)
        print(f"first read   {size / (1 << 20):.1f} MiB, {len(lines):,} lines: "
              f"{time.perf_counter() - start:.3f} s, {_read_bytes(before)}")
        del lines
        times, before = [], _rchar()
        for _ in range(1000):
            start = time.perf_counter()
            reads.events(cursor)
            times.append(time.perf_counter() - start)
        print(f"nothing new  median {statistics.median(times) * 1e6:.1f} us a poll "
              f"(1,000 polls: {_read_bytes(before)})")
        log = MetricsLog(reads.layout.metrics, "bench")
        log.append(sample)
        before, start = _rchar(), time.perf_counter()
        new, cursor = reads.events(cursor)
        print(f"one new line {(time.perf_counter() - start) * 1e6:.0f} us, {len(new)} line, "
              f"{_read_bytes(before)}")
        rotate_metrics(reads.layout.metrics, 0)
        log.append(sample)
        before, start = _rchar(), time.perf_counter()
        new, cursor = reads.events(cursor)
        print(f"rotated      {(time.perf_counter() - start) * 1e6:.0f} us, {len(new)} line, "
              f"{_read_bytes(before)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
