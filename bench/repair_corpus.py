"""Benchmark: the Engine with every strategy over the buggy-tool corpus.

    .venv/bin/python bench/repair_corpus.py            # the whole corpus
    .venv/bin/python bench/repair_corpus.py --quick    # three cases, for a smoke test
    .venv/bin/python bench/repair_corpus.py --case gcd --case fizzbuzz -v
    .venv/bin/python bench/repair_corpus.py --class import --class dict_default
    .venv/bin/python bench/repair_corpus.py --since 2 --json > after.json
    .venv/bin/python bench/repair_corpus.py --shard 0/2 --json > s0.json &   # two processes,
    .venv/bin/python bench/repair_corpus.py --shard 1/2 --json > s1.json     # then one report:
    .venv/bin/python bench/repair_corpus.py --merge s0.json s1.json

Prints bundles fixed out of the corpus, by strategy (expected against got), and per case
class (`repair.corpus.CLASSES`): cases, fixed (the repair passes the given tests) and
correct (it also passes the case's hidden tests, which the engine never sees; run by the
same runner over the repaired files with the hidden test files added), with totals; the
median, p95 and max wall time per bundle, candidates per second, and the runner's median
cost per candidate next to a fresh ``python -m pytest`` on the same bundle (measured in
this run) as a ratio. `--json` prints the same figures as one JSON object instead (the
per-case progress lines then go to stderr). Each case gets a fresh pattern library in a
temporary directory, taught from the case's seed bundles first. Exit status 0 whatever
the figures; 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loguru import logger

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from repairlab.repair.corpus import CLASSES, DEFAULT_ROOT, Case, load_corpus
from repairlab.repair.engine import Engine, RepairSettings
from repairlab.repair.runner import Runner, SubprocessRunner

QUICK_CASES = ("fizzbuzz", "clamp", "adapter_keyword_wrap")


@dataclass
class Result:
    """One case's outcome."""

    case: Case
    got: str | None
    seconds: float
    candidates: int
    reason: str
    details: dict[str, Any]
    correct: bool | None = None
    """Whether the repaired files also pass the hidden tests; None when unfixed or when
    the case has no hidden tests."""


def make_runner(kind: str = "auto") -> tuple[Runner, str]:
    """The production runner when the tree has one (or `kind` "subprocess": the
    reference runner, a fresh pytest per candidate)."""
    if kind == "subprocess":
        return SubprocessRunner(), "SubprocessRunner (chosen)"
    try:
        from repairlab.repair.runner import make_runner as factory
    except ImportError:
        return SubprocessRunner(), "SubprocessRunner (make_runner absent)"
    runner = factory()
    return runner, type(runner).__name__


def _library(tmp: Path, case: Case) -> Any:
    try:
        from repairlab.repair.patterns import PatternLibrary
    except ImportError:
        return None
    library = PatternLibrary(tmp / "patterns")
    for seed in case.seeds:
        library.learn(seed, source_sha256=seed.sha256)
    return library


def judge(case: Case, files: dict[str, str], runner: Runner) -> bool | None:
    """Whether repaired `files` pass the given and the hidden tests together (None when
    the case has no hidden tests). The hidden files are added only here, after the
    engine is done; a hang or crash counts as not correct."""
    if not case.hidden_files:
        return None
    merged = {**files, **case.hidden_files}
    report = runner.run(merged, case.bundle.tests + case.hidden_tests,
                        timeout=max(30.0, 10 * (case.test_timeout or 0)))
    return report.ok


def run_case(case: Case, runner: Runner, settings: RepairSettings) -> Result:
    """Repair one case with a fresh, seeded pattern library, then judge the repair on the
    hidden tests; never raises for the case."""
    if case.test_timeout is not None:
        settings = msgspec_replace(settings, test_timeout_seconds=case.test_timeout)
    with tempfile.TemporaryDirectory(prefix="repairlab-bench-") as tmp:
        library = _library(Path(tmp), case)
        try:
            engine = Engine(settings, runner, patterns=library)
            started = time.monotonic()
            outcome = engine.repair(case.bundle)
            took = time.monotonic() - started
        finally:
            if library is not None:
                library.close()
    if outcome.files is not None:
        for path in case.bundle.tests:
            if outcome.files.get(path) != case.bundle.files[path]:
                raise AssertionError(f"{case.name}: test file {path} was edited")
    got = outcome.strategy if outcome.repaired else None
    correct = None
    if got is not None and outcome.files is not None:
        correct = judge(case, dict(outcome.files), runner)
    return Result(case, got, took, outcome.candidates, outcome.reason, dict(outcome.details),
                  correct)


def msgspec_replace(settings: RepairSettings, **changes: Any) -> RepairSettings:
    """A copy of frozen settings with some fields changed."""
    import msgspec

    return msgspec.structs.replace(settings, **changes)


def runner_cost(runner: Runner, cases: Sequence[Case], rounds: int) -> tuple[float, float]:
    """Median seconds per test run of `runner` and of a fresh pytest per run, on the
    same bundles (each case's reference fix where it has one: a run that finishes,
    where the buggy bundle may loop until the timeout), interleaved so both see the same machine
    load (one round at least, whatever `rounds` says)."""
    fresh = SubprocessRunner()
    rounds = max(1, rounds)  # the medians need one run of each at least
    warm_times: list[float] = []
    fresh_times: list[float] = []
    for case in cases:
        bundle = case.fixed_bundle or case.bundle  # a hopeless case has no fix
        files, tests = bundle.files, bundle.tests
        runner.run(files, tests, timeout=30)  # warm-up: first import in the server
        for _ in range(rounds):
            t0 = time.perf_counter()
            runner.run(files, tests, timeout=30)
            warm_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            fresh.run(files, tests, timeout=30)
            fresh_times.append(time.perf_counter() - t0)
    return statistics.median(warm_times), statistics.median(fresh_times)


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def by_class(results: Sequence[Result]) -> dict[str, dict[str, int]]:
    """Per case class, in `CLASSES` order (classes without a selected case left out):
    cases, fixed (passes the given tests), correct (passes the hidden tests too),
    rightly_unfixed (a hopeless case left alone); plus a "total" row."""
    rows: dict[str, dict[str, int]] = {}
    for name in [*CLASSES, ""]:
        picked = [r for r in results if r.case.cls == name]
        if picked:
            rows[name or "(no class)"] = _row(picked)
    rows["total"] = _row(results)
    return rows


def _row(results: Sequence[Result]) -> dict[str, int]:
    return {
        "cases": len(results),
        "fixed": sum(r.got is not None for r in results),
        "correct": sum(r.correct is True for r in results),
        "rightly_unfixed": sum(r.case.expect is None and r.got is None for r in results),
    }


def class_table(results: Sequence[Result]) -> str:
    """The per-class rows as text: fixed and correct out of the cases."""
    lines = [f"  {'class':26} {'cases':>5} {'fixed':>5} {'correct':>7}  {'unfixed ok':>10}"]
    for name, row in by_class(results).items():
        lines.append(f"  {name:26} {row['cases']:5} {row['fixed']:5} {row['correct']:7}  "
                     f"{row['rightly_unfixed']:10}")
    return "\n".join(lines)


def times(results: Sequence[Result]) -> dict[str, float]:
    """Wall seconds per bundle: median, p95 and max; candidates per second overall."""
    secs = [r.seconds for r in results]
    spent = sum(secs)
    return {
        "median_s": statistics.median(secs) if secs else 0.0,
        "p95_s": percentile(secs, 95),
        "max_s": max(secs, default=0.0),
        "candidates": sum(r.candidates for r in results),
        "candidates_per_s": sum(r.candidates for r in results) / max(spent, 1e-9),
    }


def as_json(results: Sequence[Result], runner_name: str, cost: tuple[float, float] | None,
            wall: float) -> dict[str, Any]:
    """The benchmark's figures as one JSON-ready object."""
    return {
        "runner": runner_name,
        "wall_s": wall,
        "classes": by_class(results),
        "time_per_bundle": times(results),
        "runner_cost_ms": None if cost is None else {"warm": 1000 * cost[0],
                                                     "fresh_pytest": 1000 * cost[1]},
        "cases": [
            {"name": r.case.name, "class": r.case.cls, "since": r.case.since,
             "expect": r.case.expect, "got": r.got, "correct": r.correct,
             "seconds": round(r.seconds, 3), "candidates": r.candidates,
             "reason": r.reason[:300],
             "edits": str(r.details.get("edits") or r.details.get("note") or "")}
            for r in results
        ],
    }


def merge(paths: Sequence[Path], root: Path) -> tuple[list[Result], str,
                                                  tuple[float, float] | None, float]:
    """Results, runner name, runner cost and wall time from the `--json` outputs of
    shards of one run (the wall time is the longest shard's). Raises ValueError when a
    file is not such an output or names a case the corpus does not hold."""
    cases = {c.name: c for c in load_corpus(root)}
    results: list[Result] = []
    names, cost, wall = [], None, 0.0
    for path in paths:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or "cases" not in data:
            raise ValueError(f"{path}: not a --json output of this bench")
        names.append(str(data["runner"]))
        wall = max(wall, float(data["wall_s"]))
        if cost is None and data.get("runner_cost_ms"):
            rc = data["runner_cost_ms"]
            cost = (rc["warm"] / 1000, rc["fresh_pytest"] / 1000)
        for row in data["cases"]:
            if row["name"] not in cases:
                raise ValueError(f"{path}: unknown case {row['name']}")
            results.append(Result(cases[row["name"]], row["got"], float(row["seconds"]),
                                  int(row["candidates"]), str(row["reason"]),
                                  {"edits": row.get("edits", "")}, row["correct"]))
    results.sort(key=lambda r: r.case.name)
    return results, " + ".join(sorted(set(names))) + f" ({len(paths)} shards)", cost, wall


def report(results: Sequence[Result], runner_name: str, cost: tuple[float, float] | None,
           wall: float) -> str:
    """The benchmark's printed summary."""
    n = len(results)
    fixed = [r for r in results if r.got is not None]
    repairable = [r for r in results if r.case.expect is not None]
    as_expected = [r for r in results if r.got == r.case.expect]
    times = [r.seconds for r in results]
    candidates = sum(r.candidates for r in results)
    lines = [
        f"runner: {runner_name}",
        f"fixed {len(fixed)}/{n} bundles ({len(fixed)}/{len(repairable)} of those meant to "
        f"be fixable, {100 * len(fixed) / max(1, len(repairable)):.0f}%); "
        f"{len(as_expected)}/{n} by the expected strategy (or rightly unfixed)",
        "by strategy (expected -> got):",
    ]
    pairs = Counter((r.case.expect or "none", r.got or "unfixed") for r in results)
    for (want, got), count in sorted(pairs.items()):
        mark = "" if want == got or (want == "none" and got == "unfixed") else "   <-- differs"
        lines.append(f"  {want:20} -> {got:20} {count:3}{mark}")
    over = [r for r in results if r.seconds > 60]
    judged = [r for r in fixed if r.correct is not None]
    lines += [
        f"correct on hidden tests: {sum(r.correct is True for r in judged)}/{len(judged)} of "
        f"the fixes that could be judged",
        "by class (fixed: passes the given tests; correct: passes the hidden tests too):",
        class_table(results),
    ]
    lines += [
        f"time per bundle: median {statistics.median(times):.2f}s, "
        f"p95 {percentile(times, 95):.2f}s,"
        f" max {max(times):.2f}s; over 60 s: {len(over)}",
        f"candidates: {candidates} in {sum(times):.1f}s = {candidates / max(sum(times), 1e-9):.1f}"
        f" candidates/s (wall {wall:.1f}s)",
    ]
    hanging = [r for r in results if r.case.test_timeout is not None]
    if hanging:
        rest = [r for r in results if r.case.test_timeout is None]
        rest_time = sum(r.seconds for r in rest)
        lines.append(
            f"  of which {len(hanging)} bundles whose bug loops forever took "
            f"{sum(r.seconds for r in hanging):.1f}s for {sum(r.candidates for r in hanging)} "
            f"candidates (most of them cut at the per-candidate limit); the other "
            f"{len(rest)}: {sum(r.candidates for r in rest) / max(rest_time, 1e-9):.1f} "
            f"candidates/s"
        )
    if cost is not None:
        warm, fresh = cost
        lines.append(
            f"runner cost per candidate: median {1000 * warm:.1f} ms vs fresh python -m pytest "
            f"{1000 * fresh:.1f} ms: {fresh / warm:.1f}x cheaper"
        )
    missed = [r for r in results if r.got != r.case.expect
              and not (r.case.expect is None and r.got is None)]
    for r in missed:
        lines.append(f"  miss: {r.case.name} expected {r.case.expect} got {r.got} "
                     f"({r.seconds:.1f}s, {r.candidates} candidates): {r.reason[:120]}")
    for r in [r for r in fixed if r.correct is False]:
        lines.append(f"  overfit: {r.case.name} ({r.case.cls}) passes the given tests but not "
                     f"the hidden ones: {r.details.get('edits') or r.details.get('note') or ''}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="corpus directory")
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK_CASES)}")
    parser.add_argument("--case", action="append", default=[], help="only this case (repeatable)")
    parser.add_argument("--class", dest="classes", action="append", default=[],
                        metavar="NAME", help="only cases of this class (repeatable); one of "
                        + ", ".join(CLASSES))
    parser.add_argument("--since", type=int, choices=(1, 2),
                        help="only the first corpus (1) or the cases added in round two (2)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--shard", metavar="K/N",
                        help="only every N-th selected case from the K-th (0-based), to run "
                             "shards in parallel processes")
    parser.add_argument("--merge", nargs="+", type=Path, metavar="JSON",
                        help="run nothing: report the union of shards' --json outputs")
    parser.add_argument("--bundle-timeout", type=float, default=60.0)
    parser.add_argument("--cost-rounds", type=int, default=5,
                        help="runs per bundle when timing the runner against fresh pytest")
    parser.add_argument("--runner", choices=("auto", "subprocess"), default="auto",
                        help="auto: repair.runner.make_runner() when present")
    parser.add_argument("-v", "--verbose", action="store_true", help="keep the engine's logs")
    args = parser.parse_args(argv)
    if not args.verbose:
        logger.remove()
        logger.add(sys.stderr, level="WARNING")
    if args.merge:
        try:
            merged = merge(args.merge, args.root)
        except (OSError, ValueError, KeyError) as exc:
            print(f"cannot merge: {exc}", file=sys.stderr)
            return 2
        print(json.dumps(as_json(*merged), indent=1) if args.json else report(*merged))
        return 0
    unknown = [c for c in args.classes if c not in CLASSES]
    if unknown:
        print(f"unknown class: {', '.join(unknown)}", file=sys.stderr)
        return 2
    cases = load_corpus(args.root)
    wanted = set(args.case) or (set(QUICK_CASES) if args.quick else set())
    if wanted:
        cases = [c for c in cases if c.name in wanted]
    if args.classes:
        cases = [c for c in cases if c.cls in args.classes]
    if args.since is not None:
        cases = [c for c in cases if c.since == args.since]
    if args.shard:
        try:
            k, n = (int(x) for x in args.shard.split("/"))
            if not 0 <= k < n:
                raise ValueError(args.shard)
        except ValueError:
            print(f"--shard wants K/N with 0 <= K < N, got {args.shard}", file=sys.stderr)
            return 2
        cases = cases[k::n]
    if not cases:
        print("no cases selected", file=sys.stderr)
        return 2
    settings = RepairSettings(bundle_timeout_seconds=args.bundle_timeout)
    runner, runner_name = make_runner(args.runner)
    try:
        from repairlab.repair import warm_runner  # noqa: F401
    except ImportError:
        runner_name += " (repair.warm_runner.WarmRunner absent)"
    started = time.monotonic()
    results: list[Result] = []
    try:
        for case in cases:
            result = run_case(case, runner, settings)
            results.append(result)
            edit = result.details.get("edits") or result.details.get("note") or ""
            mark = {True: "correct", False: "OVERFIT", None: ""}[result.correct]
            print(f"{case.name:34} {result.got or 'unfixed':20} {result.seconds:6.2f}s "
                  f"{result.candidates:5} cand {mark:8} {edit}", flush=True,
                  file=sys.stderr if args.json else sys.stdout)
        wall = time.monotonic() - started
        sample = cases[:1] if args.quick else cases[: min(5, len(cases))]
        cost = runner_cost(runner, sample, 2 if args.quick else args.cost_rounds)
    finally:
        runner.close()
    if args.json:
        print(json.dumps(as_json(results, runner_name, cost, wall), indent=1))
    else:
        print(report(results, runner_name, cost, wall))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
