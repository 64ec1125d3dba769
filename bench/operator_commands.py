"""Benchmark: `run.py status` on a big state root, `run.py stats` on a big metrics log.

    .venv/bin/python bench/operator.py            # 100,000 files, 1,000,000 metrics lines
    .venv/bin/python bench/operator.py --quick    # 500 files, 5,000 lines, one run
    .venv/bin/python bench/operator.py --files 50000 --lines 200000 --runs 5

Builds a synthetic state root in a temporary directory (handoff-sized files spread
over queue/, processed/*, deferred/, claims/ and challengers/, and metrics lines
like the daemon's, split over three rotated files and the live one), then runs each
command as an operator does, in a child process, `--runs` times. For each it prints
the median wall time of the whole command (interpreter start-up included), the
median time of the work alone (the same function called in this process), and the
peak resident memory of the child (`ru_maxrss` from `wait4`), next to the peak of
`run.py check-config` on the same root, which is the interpreter and imports alone.
Exit status 0 whatever the figures; 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import msgspec

from repairlab.config import load_config
from repairlab.messages.records import MetricLine, rfc3339
from repairlab.state.layout import Layout
from repairlab.state.metrics import metrics_files
from repairlab.state.stats import compute_stats
from repairlab.state.status import take_status

RUN_PY = Path(__file__).resolve().parent.parent / "run.py"
HANDOFF = b'{"schema":"repairlab.handoff/1","tool":"t","entrypoint":"m.py","files":{}}'


def build_root(root: Path, files: int) -> None:
    """`files` files spread like a busy root: mostly done/ and challengers/."""
    layout = Layout.at(root)
    layout.ensure()
    shares = [(layout.done, 0.45), (layout.challengers, 0.35), (layout.queue, 0.08),
              (layout.hard_fail, 0.04), (layout.corrupt, 0.02), (layout.deferred, 0.04),
              (layout.claims_of("bench-a"), 0.01), (layout.claims_of("bench-b"), 0.01)]
    made = 0
    for index, (directory, share) in enumerate(shares):
        directory.mkdir(parents=True, exist_ok=True)
        count = files - made if index == len(shares) - 1 else int(files * share)
        if directory == layout.hard_fail:
            count //= 2  # each with its reason file
        for i in range(count):
            if directory == layout.challengers:
                name = f"challenger_20261126T000000{i:06d}Z_{i:012x}.json"
            else:
                name = f"h{i:07d}.json"
            _write(directory / name, HANDOFF)
            if directory == layout.hard_fail:
                _write(directory / f"h{i:07d}.reason.json", b'{"handoff":"x","rule":"r"}')
                made += 1
        made += count
    _write(layout.instances / "bench-a.json", b'{"instance":"bench-a","pid":1,"host":"h"}')


def _write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def build_metrics(metrics: Path, lines: int, seed: int = 1) -> int:
    """`lines` daemon-like metrics lines over 3 rotated files and the live one;
    returns the bytes written."""
    rng = random.Random(seed)
    encoder = msgspec.json.Encoder()
    strategies = ["noop", "signature_adapter", "pattern_transplant", "heuristic_microfix"]
    start = time.time() - 30 * 86400
    parts = [metrics.with_name(f"{metrics.name}.2026010{i}T000000000000Z") for i in (1, 2, 3)]
    parts.append(metrics)
    per_file = lines // len(parts) + 1
    written, made = 0, 0
    for path in parts:
        out = open(path, "wb")
        for _ in range(min(per_file, lines - made)):
            made += 1
            lineage = f"lineage-{rng.randrange(200):03d}"
            sha = f"{rng.getrandbits(256):064x}"
            roll = rng.random()
            ts = rfc3339(start + made * (30 * 86400 / max(lines, 1)))
            if roll < 0.55:
                strategy = rng.choice(strategies)
                line = MetricLine(
                    ts=ts, event="repaired", instance="bench", meta_repair=True,
                    bundle_sha256=sha, tool=f"tool{rng.randrange(50)}", lineage=lineage,
                    repair_strategy=strategy,
                    repair_pattern_id=f"tool{rng.randrange(50)}:c{rng.randrange(40):04d}"
                    if strategy == "pattern_transplant" else None,
                    repair_attempts=rng.randrange(4), duration_s=round(rng.expovariate(2.0), 6),
                    handoff=f"h{made}.json", challenger=f"challenger_x_{sha[:12]}.json",
                    duplicate=rng.random() < 0.05, candidates=rng.randrange(100))
            elif roll < 0.85:
                line = MetricLine(
                    ts=ts, event="repair_failed", instance="bench", meta_repair=False,
                    bundle_sha256=sha,
                    tool=f"tool{rng.randrange(50)}", lineage=lineage, repair_attempts=3,
                    duration_s=round(rng.expovariate(1.0), 6), handoff=f"h{made}.json",
                    failures=rng.randrange(1, 3), reason="tests fail: 0 passed, 1 failed",
                    candidates=rng.randrange(100))
            elif roll < 0.95:
                line = MetricLine(ts=ts, event="quarantined", instance="bench", meta_repair=False,
                                  bundle_sha256=sha, tool=f"tool{rng.randrange(50)}",
                                  lineage=lineage, failures=3, handoff=f"h{made}.json",
                                  reason="tests fail: 0 passed, 1 failed")
            else:
                line = MetricLine(ts=ts, event="corrupt", instance="bench", meta_repair=False,
                                  handoff=f"h{made}.json", reason="json: not JSON")
            data = encoder.encode(line) + b"\n"
            out.write(data)
            written += len(data)
        out.close()
    return written


# The child runs the command as run.py does, then reports its own peak resident
# memory. VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec(), so a child
# forked from this (large) benchmark process would report the parent's size.
CHILD = """
import sys
sys.path.insert(0, {repo!r})
from repairlab.cli.main import main
code = main(sys.argv[1:])
peak = 0
try:
    with open("/proc/self/status") as fh:
        peak = next(int(l.split()[1]) for l in fh if l.startswith("VmHWM:"))
except (OSError, StopIteration):
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
sys.stderr.write(f"\\nPEAK_KIB {{peak}}\\n")
sys.exit(code)
"""


def run_child(args: Sequence[str]) -> tuple[float, int]:
    """Run the command `run.py ARGS` in a fresh interpreter to the end; (wall
    seconds, peak RSS in KiB). Raises RuntimeError with its stderr when it
    exits non-zero."""
    code = CHILD.format(repo=str(RUN_PY.parent))
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, *args], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"run.py {' '.join(args)} exited {proc.returncode}: "
                           f"{proc.stderr[-500:]}")
    peak = int(proc.stderr.rsplit("PEAK_KIB", 1)[1].split()[0])
    return wall, peak


def timed(fn: Callable[[], object], runs: int) -> float:
    """The median seconds of `fn()` over `runs` calls."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(args: Sequence[str], runs: int) -> tuple[float, int]:
    """Median wall time and the largest peak RSS (KiB) of `runs` child runs."""
    results = [run_child(args) for _ in range(runs)]
    return statistics.median(r[0] for r in results), max(r[1] for r in results)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one run")
    parser.add_argument("--files", type=int, default=None)
    parser.add_argument("--lines", type=int, default=None)
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the temporary root")
    try:
        opts = parser.parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2
    files = opts.files or (500 if opts.quick else 100_000)
    lines = opts.lines or (5_000 if opts.quick else 1_000_000)
    runs = opts.runs or (1 if opts.quick else 3)
    tmp = Path(tempfile.mkdtemp(prefix="repairlab-bench-"))
    try:
        root = tmp / "state"
        started = time.perf_counter()
        build_root(root, files)
        size = build_metrics(Layout.at(root).metrics, lines)
        config_path = tmp / "bench.toml"
        config_path.write_text(f'[paths]\nroot = "{root}"\n[instance]\nid = "bench"\n')
        config = load_config(config_path)
        layout = Layout.from_config(config)
        print(f"built {files} files and {lines} metrics lines ({size / 2**20:.1f} MiB in "
              f"{len(metrics_files(layout.metrics))} files) in "
              f"{time.perf_counter() - started:.1f} s under {tmp}")
        cfg = ["--config", str(config_path)]
        _, base_rss = measure(["check-config", *cfg], 1)
        print(f"baseline: run.py check-config peak RSS {base_rss / 1024:.1f} MiB "
              "(interpreter and imports)")

        wall, rss = measure(["status", "--json", *cfg], runs)
        work = timed(lambda: take_status(layout, config), runs)
        print(f"status  {files:>9} files: command median {wall:.3f} s, work alone "
              f"{work:.3f} s, peak RSS {rss / 1024:.1f} MiB ({runs} runs)")

        wall, rss = measure(["stats", "--by", "lineage", "--json", *cfg], runs)
        work = timed(lambda: compute_stats(metrics_files(layout.metrics), "lineage"), runs)
        print(f"stats   {lines:>9} lines: command median {wall:.3f} s, work alone "
              f"{work:.3f} s ({lines / work / 1e6:.2f} M lines/s), peak RSS "
              f"{rss / 1024:.1f} MiB ({runs} runs)")
    finally:
        if opts.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
