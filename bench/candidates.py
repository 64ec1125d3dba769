"""Runner: cost per candidate of the warm runner next to a fresh `python -m pytest`.

    .venv/bin/python bench/candidates.py [--quick] [--reps 3] [--warm 30] [--fresh 10]

The table-row form of `bench/runner.py`, whose bundle it reuses and whose
interleaving of the two kinds of run it copies (run that one for the full
breakdown with coverage, CPU times and p95s). Each repetition times, on one
small bundle (4 files, 6 tests), `--warm` candidates on one started
`WarmRunner` (after 3 unmeasured ones) and `--fresh` on the reference
`SubprocessRunner` (a fresh ``python -m pytest`` per candidate), interleaved;
the ratio is taken within the repetition.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Row, describe, median, run_main, say, spread
from runner import BUNDLE, TESTS, TIMEOUT

from repairlab.repair.runner import SubprocessRunner
from repairlab.repair.warm_runner import WarmRunner


def one_run(n_warm: int, n_fresh: int) -> tuple[float, float, bool]:
    """(warm median s, fresh median s, sandboxed) of one repetition; the two kinds
    are interleaved, as in bench/runner.py, so that load changes hit both alike."""
    reference = SubprocessRunner()
    warm_t: list[float] = []
    fresh_t: list[float] = []
    per_round = max(1, n_warm // n_fresh)

    def timed(fn: Callable[[], object], into: list[float]) -> None:
        start = time.perf_counter()
        fn()
        into.append(time.perf_counter() - start)

    with WarmRunner() as warm:
        warm.start()
        check = warm.run(BUNDLE, TESTS, timeout=TIMEOUT)
        if not (check.ok and check.passed == 6):
            raise RuntimeError(f"warm runner got it wrong: {check.summary()}")
        for _ in range(3):  # unmeasured: let caches settle
            warm.run(BUNDLE, TESTS, timeout=TIMEOUT)
        for _ in range(n_fresh):
            timed(lambda: reference.run(BUNDLE, TESTS, timeout=TIMEOUT), fresh_t)
            for _ in range(per_round):
                timed(lambda: warm.run(BUNDLE, TESTS, timeout=TIMEOUT), warm_t)
        sandboxed = bool(warm.sandboxed)
    return median(warm_t), median(fresh_t), sandboxed


def measure(args: argparse.Namespace) -> list[Row]:
    """`args.reps` repetitions; medians and the median ratio."""
    n_warm, n_fresh = (3, 1) if args.quick else (args.warm, args.fresh)
    warm, fresh, ratios = [], [], []
    sandboxed = False
    say(f"runner: {n_warm} warm and {n_fresh} fresh candidates x {args.reps} repetitions, "
        f"bundle of {len(BUNDLE)} files with 6 tests")
    say(describe(Path(".")))
    for rep in range(args.reps):
        w, f, sandboxed = one_run(n_warm, n_fresh)
        warm.append(w * 1000)
        fresh.append(f * 1000)
        ratios.append(f / w)
        say(f"  rep {rep + 1}: warm {w * 1000:.1f} ms, fresh {f * 1000:.1f} ms, "
            f"ratio {f / w:.1f}x")
    box = "bwrap" if sandboxed else "no sandbox"
    return [
        Row("6 runner: warm per candidate", f"{median(warm):.1f} ms",
            note=f"WarmRunner ({box}), {n_warm} per rep; {spread(warm)} ms"),
        Row("6 runner: fresh per candidate", f"{median(fresh):.1f} ms",
            note=f"SubprocessRunner (python -m pytest), {n_fresh} per rep; {spread(fresh)} ms"),
        Row("6 runner: fresh/warm", f"{median(ratios):.1f}x",
            note=f"ratio within each run; {spread(ratios)}"),
    ]


def _options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--warm", type=int, default=30, help="measured warm runs per repetition")
    p.add_argument("--fresh", type=int, default=10, help="measured fresh runs per repetition")


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print the table."""
    return run_main(__doc__, 3, measure, argv, _options)


if __name__ == "__main__":
    sys.exit(main())
