"""Drain N passing handoffs through `run.py drain` and print handoffs per second.

    .venv/bin/python bench/drain.py [--handoffs 200] [--repeat 3] [--workers 2]

Each repetition uses a fresh state root with N distinct passing bundles (noop
repairs: one real sandboxed test run each), runs the real command line as a child
process, and times it from start to exit (start-up included). Prints every run
and the median.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from repairlab.cli.submit import build_handoff, enqueue  # noqa: E402
from repairlab.state.layout import Layout  # noqa: E402

TESTS = ("from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
         "def test_zero():\n    assert add(0, 0) == 0\n")


def one_run(count: int, workers: int) -> float:
    """Seconds for `run.py drain` over `count` fresh passing handoffs."""
    work = Path(tempfile.mkdtemp(prefix="repairlab-drain-"))
    try:
        layout = Layout.at(work / "state")
        layout.ensure()
        for i in range(count):
            files = {"calc.py": f"def add(a, b):\n    return a + b\n# {i}\n",
                     "test_calc.py": TESTS}
            enqueue(layout, build_handoff(files, "calc", "calc.py", "bench"), "calc",
                    f"h{i:05d}.json")
        config = work / "r.toml"
        config.write_text(f'[paths]\nroot = "state"\n[repair]\nworkers = {workers}\n'
                          '[log]\nlevel = "WARNING"\n')
        env = {k: v for k, v in os.environ.items() if not k.startswith("REPAIRLAB_")}
        started = time.monotonic()
        subprocess.run([sys.executable, str(REPO / "run.py"), "drain", "--config", str(config)],
                       cwd=work, env=env, check=True, timeout=3600)
        elapsed = time.monotonic() - started
        done = len(os.listdir(layout.done))
        if done != count:
            raise SystemExit(f"only {done} of {count} handoffs reached done/")
        return elapsed
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--handoffs", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    print(f"drain of {args.handoffs} passing handoffs, {args.workers} workers, "
          f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {args.repeat} runs")
    rates = []
    for k in range(args.repeat):
        seconds = one_run(args.handoffs, args.workers)
        rates.append(args.handoffs / seconds)
        print(f"  run {k + 1}: {seconds:.2f}s  {rates[-1]:.1f} handoffs/s")
    print(f"  median: {statistics.median(rates):.1f} handoffs/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
