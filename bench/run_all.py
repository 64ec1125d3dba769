"""Every daemon benchmark of issue 8, one after the other, and one table at the end.

    .venv/bin/python bench/run_all.py [--quick] [--only overhead,latency] [--dir DIR]

Runs, each in a child process of its own (so that one's threads and memory do not
weigh on the next): 1 overhead, 5 raw file ops (printed beside 1), 2 latency,
3 backlog, 4 memory, 6 runner, 7 web (issue 16). Their own output (what, how often, on what, and
each repetition) streams through as they go; the table at the end gathers every
row. Full size takes about a quarter of an hour on 2 CPUs, `--quick` seconds.
Exit status 0 when every benchmark ran (whatever the figures), 1 otherwise.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Row, describe, print_table, read_rows

BENCH = Path(__file__).resolve().parent
ORDER = ("overhead", "rawfiles", "latency", "backlog", "memory", "candidates", "web")


def _ceiling_row(rows: list[Row]) -> Row | None:
    """Measure 1's daemon rate as a share of measure 5's raw ceiling."""
    daemon = next((r for r in rows if r.measure == "1 overhead: daemon rate"), None)
    raw = next((r for r in rows if r.measure.startswith("5 raw")), None)
    if daemon is None or raw is None:
        return None
    d, c = float(daemon.figure.split()[0]), float(raw.figure.split()[0])
    return Row("1 vs 5: daemon / raw ceiling", f"{d / c:.1%}",
               note="the daemon's rate as a share of what the file operations alone allow")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen benchmarks; print the table."""
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes, one repetition each")
    p.add_argument("--only", default=",".join(ORDER), help=f"comma-separated, of {ORDER}")
    p.add_argument("--dir", default=None, help="where state roots go (default: the system "
                   "temporary directory; memory.py picks its own, see its --help)")
    args = p.parse_args(argv)
    chosen = [name for name in ORDER if name in args.only.split(",")]
    rows: list[Row] = []
    failed: list[str] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="repairlab-bench-rows-") as tmp:
        for name in chosen:
            out = Path(tmp) / f"{name}.json"
            cmd = [sys.executable, str(BENCH / f"{name}.py"), "--rows", str(out)]
            if args.quick:
                cmd.append("--quick")
            if args.dir and name != "memory":
                cmd += ["--dir", args.dir]
            print(f"== {name}", flush=True)
            code = subprocess.call(cmd, cwd=BENCH.parent, stdin=subprocess.DEVNULL)
            if code != 0 or not out.exists():
                failed.append(name)
                rows.append(Row(f"{name}", "FAILED", note=f"exit {code}"))
                continue
            rows += read_rows(out)
            if name == "rawfiles":
                extra = _ceiling_row(rows)
                if extra is not None:
                    rows.append(extra)
    print()
    print(f"repairlab benchmarks (issue 8){' --quick' if args.quick else ''}: "
          f"{len(chosen)} benchmarks in {time.monotonic() - started:.0f} s")
    print(describe(Path(args.dir or tempfile.gettempdir())))
    print_table(rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
