"""What one candidate costs: the fast path, the warm sandboxed runner, a fresh pytest.

    .venv/bin/python bench/runner.py [--quick] [--warm N] [--fresh N]

Per candidate, today's way against the new way, in one run and interleaved: a
bundle under repair (the one below with `count_words` off by one, so three tests
fail) and the candidates a strategy judges. Today's way is `Context.judge` before
the fast path: every candidate gets a complete `WarmRunner.run`. The new way is the
fast path (repair/fastpath.py): the bundle's tests are collected once, each
candidate runs in a child forked from that session with the failing tests first,
stopping at the first failure and held to per-test limits scaled from the first
run; a candidate that passes there gets a complete `run` for its verdict. Three
candidates, each screened right after its complete run (so the session process's
clean-up after one candidate overlaps that run), and then still-failing candidates
screened one after another with nothing in between, as a strategy screens them (the
per-candidate cost a repair sees). The three: one that still fails (most of them),
the fix (screen plus complete run), and one that loops forever (today it costs the
strategy's own per-candidate timeout: `heuristic_microfix` allows five times the
fastest run, at least 0.5 s).

On one small bundle (two source modules in a package, six tests), in the same run
and interleaved round by round: the wall time per candidate of `WarmRunner` (after a
few unmeasured runs), with and without coverage, and of `SubprocessRunner` (a fresh
``python -m pytest``, plugin autoload on, as the reference runner does it). It also
times a bare fresh ``python -m pytest`` with plugin autoload off, the fairest
comparison, since the warm runner loads no third-party pytest plugin either. Prints
medians, p95s, CPU seconds per candidate (which a loaded machine skews far less
than wall time) and the ratios, plus what it ran on.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from repairlab.repair.runner import SubprocessRunner, write_tree
from repairlab.repair.strategies.microfix import TIMEOUT_FACTOR, TIMEOUT_FLOOR
from repairlab.repair.warm_runner import WarmRunner, per_test_limit

BUNDLE = {
    "textutil/__init__.py": "",
    "textutil/words.py": (
        "def count_words(text):\n"
        "    return len(text.split())\n"
        "\n"
        "\n"
        "def longest(words):\n"
        "    best = ''\n"
        "    for w in words:\n"
        "        if len(w) > len(best):\n"
        "            best = w\n"
        "    return best\n"
    ),
    "textutil/case.py": (
        "def title(text):\n"
        "    return ' '.join(w.capitalize() for w in text.split())\n"
    ),
    "test_textutil.py": (
        "import pytest\n"
        "from textutil.case import title\n"
        "from textutil.words import count_words, longest\n"
        "\n"
        "\n"
        "@pytest.mark.parametrize('text,n', [('a b c', 3), ('', 0), ('one', 1)])\n"
        "def test_count_words(text, n):\n"
        "    assert count_words(text) == n\n"
        "\n"
        "\n"
        "def test_longest():\n"
        "    assert longest(['ab', 'abc', 'a']) == 'abc'\n"
        "\n"
        "\n"
        "def test_longest_empty():\n"
        "    assert longest([]) == ''\n"
        "\n"
        "\n"
        "def test_title():\n"
        "    assert title('hello world') == 'Hello World'\n"
    ),
}
TESTS = ("test_textutil.py",)
TIMEOUT = 30.0
_WORDS = "textutil/words.py"
UNDER_REPAIR = {**BUNDLE, _WORDS: BUNDLE[_WORDS].replace("len(text.split())",
                                                         "len(text.split()) + 1")}
CANDIDATES = {
    "still fails": {**BUNDLE, _WORDS: BUNDLE[_WORDS].replace("len(text.split())",
                                                             "len(text.split()) - 1")},
    "the fix": BUNDLE,
    "endless loop": {**BUNDLE, _WORDS: BUNDLE[_WORDS].replace(
        "    return len(text.split())", "    while True:\n        pass")},
}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _bare_fresh(python: str) -> None:
    with tempfile.TemporaryDirectory(prefix="repairlab-bench-") as tmp:
        write_tree(Path(tmp), BUNDLE)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONDONTWRITEBYTECODE": "1",
               "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
        subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS],
                       cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=TIMEOUT, check=False)


class _Series:
    """Wall and CPU seconds of one kind of run."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def line(self, label: str, note: str) -> str:
        w, c = statistics.median(self.wall), statistics.median(self.cpu)
        return (f"{label:<21}{w * 1000:7.1f} ms  (p95 {_p95(self.wall) * 1000:.1f}; "
                f"cpu {c * 1000:.1f} ms; n={len(self.wall)}; {note})")


def _fresh_once(series: _Series, fn: Callable[[], object]) -> None:
    cpu, start = _children_cpu(), time.perf_counter()
    fn()
    series.wall.append(time.perf_counter() - start)
    series.cpu.append(_children_cpu() - cpu)


def _warm_once(series: _Series, warm: WarmRunner, coverage: bool) -> None:
    start = time.perf_counter()
    warm.run(BUNDLE, TESTS, timeout=TIMEOUT, coverage=coverage)
    series.wall.append(time.perf_counter() - start)
    series.cpu.append(warm.last_cost.get("cpu", 0.0))


def _fast_path_rows(warm: WarmRunner, rounds: int) -> list[str]:
    """Per-candidate wall and CPU, today's way and the new way, interleaved."""
    first = warm.run(UNDER_REPAIR, TESTS, timeout=TIMEOUT)
    failing = [nid for nid, ok in first.outcomes.items() if not ok]
    limit = per_test_limit(first.durations)
    today_timeout = max(TIMEOUT_FLOOR, TIMEOUT_FACTOR * first.duration_s)
    opened = time.perf_counter()
    if not warm.open_session(UNDER_REPAIR, TESTS, timeout=TIMEOUT):
        raise RuntimeError("the fast path's session did not open")
    open_s = time.perf_counter() - opened
    today = {name: _Series() for name in CANDIDATES}
    new = {name: _Series() for name in CANDIDATES}
    for _ in range(rounds):
        for name, files in CANDIDATES.items():
            start = time.perf_counter()
            report = warm.run(files, TESTS, timeout=today_timeout)
            today[name].wall.append(time.perf_counter() - start)
            today[name].cpu.append(warm.last_cost.get("cpu", 0.0))
            start = time.perf_counter()
            quick = warm.screen(files, TESTS, timeout=today_timeout, first=failing,
                                stop=True, test_limit=limit)
            if quick is None:
                raise RuntimeError(f"the fast path refused {name!r}")
            cpu = warm.last_cost.get("cpu", 0.0)
            if quick.ok:  # the verdict rests on a complete run
                verdict = warm.run(files, TESTS, timeout=today_timeout)
                cpu += warm.last_cost.get("cpu", 0.0)
                if verdict.ok != report.ok:
                    raise RuntimeError(f"{name!r}: the fast path and a full run disagree")
            elif report.ok:
                raise RuntimeError(f"{name!r}: rejected by the fast path, passed a full run")
            new[name].wall.append(time.perf_counter() - start)
            new[name].cpu.append(cpu)
    # As a strategy screens them: one still-failing candidate after another, with
    # nothing in between (above, each screen has a complete run before it, during
    # which the session process does its clean-up and forks the next child).
    in_a_row = _Series()
    for _ in range(rounds * 3):
        start = time.perf_counter()
        quick = warm.screen(CANDIDATES["still fails"], TESTS, timeout=today_timeout,
                            first=failing, stop=True, test_limit=limit)
        in_a_row.wall.append(time.perf_counter() - start)
        in_a_row.cpu.append(warm.last_cost.get("cpu", 0.0))
        if quick is None or quick.ok:
            raise RuntimeError("the fast path got the still-failing candidate wrong")
    warm.close_session()
    lines = [f"fast path: session opened (collection) in {open_s * 1000:.0f} ms, once per "
             f"bundle; per-test limit {limit * 1000:.0f} ms CPU; today's per-candidate "
             f"timeout {today_timeout * 1000:.0f} ms"]
    for name in CANDIDATES:
        t, n = today[name], new[name]
        tw, nw = statistics.median(t.wall), statistics.median(n.wall)
        tc, nc = statistics.median(t.cpu), statistics.median(n.cpu)
        lines.append(f"candidate {name + ':':<14} today {tw * 1000:7.1f} ms (cpu {tc * 1000:6.1f})"
                     f"   new {nw * 1000:7.1f} ms (cpu {nc * 1000:6.1f})   "
                     f"{tw / nw:5.1f}x wall, {tc / max(nc, 1e-9):5.1f}x cpu; n={len(t.wall)}")
    today_fails = statistics.median(today["still fails"].wall)
    row_wall, row_cpu = statistics.median(in_a_row.wall), statistics.median(in_a_row.cpu)
    lines.append(f"still-failing candidates screened one after another (as a strategy does): "
                 f"{row_wall * 1000:.1f} ms each (p95 {_p95(in_a_row.wall) * 1000:.1f}; cpu "
                 f"{row_cpu * 1000:.1f} ms; n={len(in_a_row.wall)}), "
                 f"{today_fails / row_wall:.1f}x today's way")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its figures; 1 if a runner got a wrong answer.

    The kinds of run are interleaved (each round: one fresh of each kind, then
    warm runs with and without coverage), so that a change in the machine's load
    during the benchmark hits both sides alike. CPU seconds are the candidate's
    processes' own (for the warm runner: its child plus the server's share), which
    the load of a shared machine skews far less than wall time.
    """
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few runs only (for tests)")
    parser.add_argument("--warm", type=int, default=30, help="measured warm runs")
    parser.add_argument("--fresh", type=int, default=10, help="measured fresh runs")
    args = parser.parse_args(argv)
    n_warm, n_fresh = (3, 1) if args.quick else (max(1, args.warm), max(1, args.fresh))
    per_round = max(1, n_warm // n_fresh)

    reference = SubprocessRunner()
    check = reference.run(BUNDLE, TESTS, timeout=TIMEOUT)
    if not (check.ok and check.passed == 6):
        print(f"reference runner got it wrong: {check.summary()}\n{check.output}")
        return 1
    warm_s, cov_s, fresh_s, bare_s = _Series(), _Series(), _Series(), _Series()
    with WarmRunner() as warm:
        started = time.perf_counter()
        warm.start()
        start_s = time.perf_counter() - started
        check = warm.run(BUNDLE, TESTS, timeout=TIMEOUT)
        covered = warm.run(BUNDLE, TESTS, timeout=TIMEOUT, coverage=True)
        if not (check.ok and check.passed == 6 and covered.ok and covered.coverage):
            print(f"warm runner got it wrong: {check.summary()}\n{check.output}")
            return 1
        for _ in range(3):  # unmeasured: let caches and the CPU settle
            warm.run(BUNDLE, TESTS, timeout=TIMEOUT)
        fast_lines = _fast_path_rows(warm, 2 if args.quick else max(3, n_warm // 3))
        for _ in range(n_fresh):
            _fresh_once(fresh_s, lambda: reference.run(BUNDLE, TESTS, timeout=TIMEOUT))
            _fresh_once(bare_s, lambda: _bare_fresh(sys.executable))
            for _ in range(per_round):
                _warm_once(warm_s, warm, coverage=False)
                _warm_once(cov_s, warm, coverage=True)
        sandboxed, uid_mode = warm.sandboxed, warm.uid_mode

    w, c = statistics.median(warm_s.wall), statistics.median(cov_s.wall)
    f, b = statistics.median(fresh_s.wall), statistics.median(bare_s.wall)
    wc, fc, bc = (statistics.median(s.cpu) for s in (warm_s, fresh_s, bare_s))
    load = os.getloadavg()
    print(f"bundle: {len(BUNDLE)} files, 6 tests in {TESTS[0]}; python {platform.python_version()}"
          f"; {os.cpu_count()} cpus; load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"warm runner: sandbox={'bwrap' if sandboxed else 'none (rlimits and uid only)'}, "
          f"uid={uid_mode}, server start {start_s * 1000:.0f} ms; runs interleaved")
    print(warm_s.line("warm median", "WarmRunner"))
    print(cov_s.line("warm+coverage median", "WarmRunner, coverage=True"))
    print(fresh_s.line("fresh median", "SubprocessRunner: python -m pytest"))
    print(bare_s.line("fresh bare median", "python -m pytest, plugin autoload off"))
    print(f"ratio fresh/warm {f / w:.1f}x (cpu {fc / max(wc, 1e-9):.1f}x); "
          f"bare fresh/warm {b / w:.1f}x (cpu {bc / max(wc, 1e-9):.1f}x); "
          f"fresh/warm+coverage {f / c:.1f}x")
    print("per candidate, today's way (a complete warm run each) and the new way "
          "(the fast path), bundle under repair: count_words off by one, 3 of 6 failing")
    for line in fast_lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
