"""What every strategy receives and returns."""

from __future__ import annotations

import ast
import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from repairlab.errors import RepairBudgetExhausted
from repairlab.repair.bundle import Bundle
from repairlab.repair.report import TestReport
from repairlab.repair.runner import Runner
from repairlab.repair.warm_runner import per_test_limit

OPEN_AFTER_TIMEOUT = 3.0  # seconds a session may take to collect when the first run timed out


@dataclass
class Budget:
    """Wall time and candidate runs left for one attempt at one bundle."""

    deadline: float
    max_candidates: int
    used: int = 0

    def charge(self) -> None:
        """Count one candidate run; raises RepairBudgetExhausted past a limit."""
        if self.used >= self.max_candidates:
            raise RepairBudgetExhausted(f"candidate budget of {self.max_candidates} spent")
        if time.monotonic() >= self.deadline:
            raise RepairBudgetExhausted("bundle time budget spent")
        self.used += 1

    def seconds_left(self) -> float:
        """Wall time left, never negative."""
        return max(0.0, self.deadline - time.monotonic())


@dataclass
class Context:
    """Everything a strategy may look at and the one way it may test a candidate."""

    bundle: Bundle
    first_run: TestReport
    runner: Runner
    budget: Budget
    test_timeout: float
    expected_tests: int
    settings: Any = None
    patterns: Any = None
    external_agent: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    strategy: str = ""
    best_partial: tuple[str, dict[str, str], TestReport] | None = None
    stop: tuple[str, str] | None = None
    # Reports by the program's shape (`program_key`): a candidate whose AST was
    # judged already is not run again. Seeded with the handoff's own program.
    tried: dict[str, TestReport] = field(default_factory=dict)
    screened: int = 0  # candidates rejected by the fast path alone
    skipped: int = 0   # candidates not run: their AST was judged already
    # When the first run timed out (it has no per-test durations): the slowest time
    # of each test that a judged candidate ran to its end, to scale the fast path's
    # per-test limit from (`test_limit`).
    completed: dict[str, float] = field(default_factory=dict)

    def stopped(self, why: str, detail: str) -> None:
        """Say why the running strategy gives up ("error", "skipped" ...) when it is not
        simply out of candidates; the engine puts it in the attempt's summary."""
        self.stop = (why, detail)

    def __post_init__(self) -> None:
        if not (self.first_run.timed_out or self.first_run.crashed):
            self.tried.setdefault(self.program_key({}), self.first_run)

    def program_key(self, changed: Mapping[str, str]) -> str:
        """What identifies a candidate's program: each changed Python file's AST
        (formatting and comments do not count), any other changed file's text."""
        digest = hashlib.sha256()
        for path in sorted(changed):
            text = changed[path]
            original = self.bundle.files.get(path)
            if original == text:
                continue
            shape = _shape(path, text)
            if original is not None and shape == self._original_shape(path, original):
                continue
            digest.update(f"{path}\0{shape}\0".encode("utf-8", "surrogatepass"))
        return digest.hexdigest()

    def _fast_path(self) -> bool:
        """Whether candidates can be screened: the runner has a fast path, and its
        session for this bundle opened (at the first candidate; not at all when the
        first run crashed or had errors, as a session could judge no candidate then).
        When the first run timed out, the session gets at most OPEN_AFTER_TIMEOUT
        seconds to collect (the loop may be in the code that collection imports)."""
        if "_fast_path" not in self.extra:
            opener = getattr(self.runner, "open_session", None)
            first = self.first_run
            timeout = min(self.test_timeout, OPEN_AFTER_TIMEOUT) if first.timed_out \
                else self.test_timeout
            self.extra["_fast_path"] = bool(
                opener is not None and hasattr(self.runner, "screen")
                and not (first.crashed or first.errors)
                and opener(self.bundle.files, self.bundle.tests, timeout=timeout))
        return bool(self.extra["_fast_path"])

    def test_limit(self) -> float:
        """What each screened test may take: scaled from the first run's slowest
        test; when the first run timed out (it gives no durations), from the slowest
        that judged candidates ran to their end (`completed`); 0 (no limit but the
        candidate's own timeout) while none has."""
        return per_test_limit(self.first_run.durations or self.completed)

    def _original_shape(self, path: str, text: str) -> str:
        shapes = self.extra.setdefault("_original_shapes", {})
        if path not in shapes:
            shapes[path] = _shape(path, text)
        return str(shapes[path])

    def judge(
        self, changed: Mapping[str, str], *, coverage: bool = False,
        timeout: float | None = None,
    ) -> TestReport:
        """Run the bundle's tests with `changed` merged over its sources.

        A candidate whose program (`program_key`) was judged already gets that
        report again, uncharged and unrun. Otherwise it charges the budget first
        (raising RepairBudgetExhausted when it is spent), and bounds the run by the
        smaller of the test timeout, the caller's own `timeout` (a strategy
        dismissing hanging candidates early) and the time left.

        Where the runner has a fast path (`screen`), the candidate runs there first:
        the tests that failed in the first run first, stopping at the first failure,
        each test held to a limit scaled from the first run. A candidate that fails
        there is rejected with that report; one that passes, or that the fast path
        cannot judge, gets a complete ordinary run, whose report is the verdict.
        A failing candidate that passes more tests than any before (and than the first
        run) is kept as `best_partial`, for the attempt's summary (a screened report
        counts the tests it ran before its first failure: a lower bound).
        """
        key = None if coverage else self.program_key(changed)
        if key is not None and key in self.tried:
            self.skipped += 1
            return self.tried[key]
        self.budget.charge()
        candidate = self.bundle.with_files(changed)
        limit = self.test_timeout if timeout is None else min(self.test_timeout, timeout)
        timeout = min(limit, max(0.5, self.budget.seconds_left()))
        report: TestReport | None = None
        if self._fast_path():
            failing = [nid for nid, ok in self.first_run.outcomes.items() if not ok]
            quick = self.runner.screen(  # type: ignore[attr-defined]
                candidate.files, candidate.tests, timeout=timeout, coverage=coverage,
                first=failing, stop=not coverage,
                test_limit=0.0 if coverage else self.test_limit())
            if quick is not None and (coverage or not quick.ok):
                self.screened += 0 if coverage else 1
                report = quick
        if report is None:
            report = self.runner.run(candidate.files, candidate.tests, timeout=timeout,
                                     coverage=coverage)
        if key is not None and not report.timed_out:
            self.tried[key] = report
        if not self.first_run.durations:
            for nodeid, took in report.durations.items():
                self.completed[nodeid] = max(took, self.completed.get(nodeid, 0.0))
        if changed and not self.accepts(report) and report.passed > (
            self.best_partial[2].passed if self.best_partial else max(0, self.first_run.passed)
        ):
            self.best_partial = (self.strategy, dict(changed), report)
        return report

    def accepts(self, report: TestReport) -> bool:
        """A candidate passes when every test the handoff holds ran and passed.

        `expected_tests` is 0 when the first run could not count them (it timed out,
        crashed or failed to collect): any passing run is then accepted, since the
        test files, and so the tests they hold, are the handoff's own."""
        if self.expected_tests == 0:
            return report.ok
        return report.ok and report.passed == self.expected_tests


def _shape(path: str, text: str) -> str:
    """A Python file's AST (as text), or any other file's text."""
    if path.endswith(".py"):
        try:
            return ast.dump(ast.parse(text))
        except (SyntaxError, ValueError, RecursionError):
            pass
    return text


@dataclass
class Fix:
    """A repair that passed: the changed source files, the passing run, and
    what the strategy did (`details`, copied into the challenger)."""

    changed: dict[str, str]
    report: TestReport
    details: dict[str, Any]
    pattern_id: str | None = None


class Strategy(Protocol):
    """Proposes and judges candidates; returns a Fix or None when it has none.

    A strategy may raise RepairBudgetExhausted (through `Context.judge`); the
    engine then stops trying and the attempt fails.
    """

    name: ClassVar[str]

    def attempt(self, ctx: Context) -> Fix | None:
        """Try to repair `ctx.bundle`."""
        ...
