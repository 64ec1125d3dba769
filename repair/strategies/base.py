"""What every strategy receives and returns."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from errors import RepairBudgetExhausted
from repair.bundle import Bundle
from repair.report import TestReport
from repair.runner import Runner


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

    def stopped(self, why: str, detail: str) -> None:
        """Say why the running strategy gives up ("error", "skipped" ...) when it is not
        simply out of candidates; the engine puts it in the attempt's summary."""
        self.stop = (why, detail)

    def judge(
        self, changed: Mapping[str, str], *, coverage: bool = False,
        timeout: float | None = None,
    ) -> TestReport:
        """Run the bundle's tests with `changed` merged over its sources.

        Charges the budget first (raising RepairBudgetExhausted when it is spent),
        and bounds the run by the smaller of the test timeout, the caller's own
        `timeout` (a strategy dismissing hanging candidates early) and the time left.
        A failing candidate that passes more tests than any before (and than the first
        run) is kept as `best_partial`, for the attempt's summary.
        """
        self.budget.charge()
        candidate = self.bundle.with_files(changed)
        limit = self.test_timeout if timeout is None else min(self.test_timeout, timeout)
        timeout = min(limit, max(0.5, self.budget.seconds_left()))
        report = self.runner.run(candidate.files, candidate.tests, timeout=timeout,
                                 coverage=coverage)
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
