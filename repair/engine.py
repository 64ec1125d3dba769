"""The repair loop: first run, then each configured strategy in order."""

from __future__ import annotations

import difflib
import time
from typing import Any, Protocol

import msgspec
from loguru import logger

from repairlab.errors import RepairBudgetExhausted
from repairlab.messages.records import BestPartial, RepairAttempt, StrategyTried
from repairlab.repair.bundle import Bundle, bundle_sha256
from repairlab.repair.report import TestReport
from repairlab.repair.runner import Runner
from repairlab.repair.strategies import REGISTRY
from repairlab.repair.strategies.base import Budget, Context, Fix
from repairlab.repair.strategies.llm import llm_hold
from repairlab.repair.symptoms import first_assertion
from repairlab.state.disk import disk_condition

MAX_PARTIAL_DIFF = 4000  # characters of the best partial candidate's diff kept
MAX_REASON = 600  # characters of the one-line reason (failure records, metrics)

STRATEGY_ORDER = (
    "noop",
    "signature_adapter",
    "pattern_transplant",
    "heuristic_microfix",
    "external_agent",
)


class RepairSettings(msgspec.Struct, frozen=True, kw_only=True):
    """The `[repair]` knobs the engine reads."""

    strategies: tuple[str, ...] = STRATEGY_ORDER
    test_timeout_seconds: float = 30.0
    bundle_timeout_seconds: float = 120.0
    max_candidates: int = 5000
    max_patterns: int = 5
    external_agent: tuple[str, ...] = ()
    # The `llm` strategy's `[llm]` table (config.schema.Llm; None = off), and where
    # its shared budget ledger, circuit and cache live.
    llm: Any = None
    state_root: str = ""
    instance: str = ""


class PatternSink(Protocol):
    """Where passing code is learned from (the pattern library)."""

    def learn(self, bundle: Bundle, *, source_sha256: str) -> None:
        """Remember the entrypoint's top-level definitions of a passing bundle."""
        ...


class RepairOutcome(msgspec.Struct, kw_only=True):
    """What one attempt at one bundle came to.

    When `repaired` is false, `reason` says why in words (the first run's summary, what
    each strategy tried and why it stopped, the best partial candidate), `attempt` holds
    the same as a record for the reason file, and `files` is None.
    """

    repaired: bool
    strategy: str | None = None
    pattern_id: str | None = None
    attempts: int = 0
    details: dict[str, Any] = msgspec.field(default_factory=dict)
    files: dict[str, str] | None = None
    report: TestReport = msgspec.field(default_factory=TestReport)
    first_run: TestReport = msgspec.field(default_factory=TestReport)
    reason: str = ""
    candidates: int = 0
    duration_s: float = 0.0
    llm_tokens: int = 0  # tokens the `llm` strategy paid for in this attempt (0 if cached)
    attempt: RepairAttempt | None = None

    def diff(self, original: Bundle) -> str:
        """Unified diff from the handoff's files to the repaired ones."""
        if not self.files:
            return ""
        return unified_diff(original.files, self.files)


def unified_diff(before: dict[str, str] | Any, after: dict[str, str]) -> str:
    """A unified diff over every path of either side, in sorted path order."""
    chunks: list[str] = []
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        chunks.extend(
            difflib.unified_diff(
                (old or "").splitlines(keepends=True),
                (new or "").splitlines(keepends=True),
                fromfile=f"a/{path}" if old is not None else "/dev/null",
                tofile=f"b/{path}" if new is not None else "/dev/null",
            )
        )
    return "".join(chunks)


class Engine:
    """Repairs bundles. Thread-compatible: one Engine per worker, or a shared one
    whose runner is safe for concurrent use.

    `repair` never raises for anything a bundle does; a bug in a strategy does
    propagate, so that the caller's supervisor sees it.
    """

    def __init__(
        self,
        settings: RepairSettings,
        runner: Runner,
        *,
        patterns: Any = None,
        strategies: dict[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self.runner = runner
        self.patterns = patterns
        self.registry = strategies if strategies is not None else REGISTRY

    def repair(self, bundle: Bundle) -> RepairOutcome:
        """Run the first test run, then each strategy in order until one passes."""
        started = time.monotonic()
        try:
            return self._repair(bundle, started)
        finally:
            close_session = getattr(self.runner, "close_session", None)
            if close_session is not None:
                close_session()

    def _repair(self, bundle: Bundle, started: float) -> RepairOutcome:
        settings = self.settings
        # A plain warm run: a bundle that passes as handed in needs nothing more, and
        # its challenger waits for nothing else. The fast path for candidates opens
        # at the first candidate (`Context.judge`).
        first = self.runner.run(bundle.files, bundle.tests,
                                timeout=settings.test_timeout_seconds)
        clean_first = not (first.timed_out or first.crashed or first.errors)
        # The share of the budget held back for `llm` (nothing unless it is enabled):
        # the search must not spend the last resort's time.
        held_seconds, held_candidates = llm_hold(settings)
        ctx = Context(
            bundle=bundle,
            first_run=first,
            runner=self.runner,
            budget=Budget(started + settings.bundle_timeout_seconds - held_seconds,
                          settings.max_candidates - held_candidates),
            test_timeout=settings.test_timeout_seconds,
            expected_tests=first.total if clean_first else 0,
            settings=settings,
            patterns=self.patterns,
            external_agent=settings.external_agent,
        )
        attempts = 0
        reason = f"tests fail: {first.summary()}"
        tried: list[StrategyTried] = []
        skipping = False  # the search spent its share: straight on to `llm`
        for name in settings.strategies:
            factory = self.registry.get(name)
            if factory is None or (skipping and name != "llm"):
                continue
            if name == "llm" and (held_seconds or held_candidates):
                ctx.budget.deadline += held_seconds
                ctx.budget.max_candidates += held_candidates
                held_seconds, held_candidates = 0.0, 0
            if name != "noop":
                attempts += 1
            ctx.strategy, ctx.stop = name, None
            before = ctx.budget.used
            try:
                fix = factory().attempt(ctx)
            except RepairBudgetExhausted as exc:
                tried.append(StrategyTried(name=name, candidates=ctx.budget.used - before,
                                           stopped="budget", detail=str(exc)))
                reason = f"{reason}; {exc} during {name}"
                if held_seconds or held_candidates:
                    skipping = True
                    continue
                break
            if fix is not None:
                return self._success(bundle, name, fix, attempts, first, ctx, started)
            why, detail = ctx.stop or ("exhausted", None)
            tried.append(StrategyTried(name=name, candidates=ctx.budget.used - before,
                                       stopped=why, detail=detail))
        attempt = self._attempt_summary(bundle, first, ctx, tried, started)
        return RepairOutcome(
            repaired=False, attempts=attempts, report=first, first_run=first,
            reason=_one_line_reason(reason, attempt), candidates=ctx.budget.used,
            duration_s=time.monotonic() - started, attempt=attempt,
            llm_tokens=int(ctx.extra.get("llm_tokens", 0)),
        )

    @staticmethod
    def _attempt_summary(bundle: Bundle, first: TestReport, ctx: Context,
                         tried: list[StrategyTried], started: float) -> RepairAttempt:
        partial = None
        if ctx.best_partial is not None:
            strategy, changed, report = ctx.best_partial
            diff = unified_diff(bundle.files, dict(bundle.with_files(changed).files))
            if len(diff) > MAX_PARTIAL_DIFF:
                diff = diff[:MAX_PARTIAL_DIFF] + "\n... (diff cut)\n"
            partial = BestPartial(strategy=strategy, passed=report.passed,
                                  failed=report.failed, errors=report.errors, diff=diff)
        said = first_assertion(first.output, bundle.files)
        if not said and first.timed_out:
            said = f"the tests did not finish within {ctx.test_timeout:g}s"
        return RepairAttempt(
            strategies=tried, best_partial=partial, first_failure=said or None,
            candidates=ctx.budget.used, duration_s=round(time.monotonic() - started, 3),
        )

    def _success(
        self, bundle: Bundle, name: str, fix: Fix, attempts: int, first: TestReport,
        ctx: Context, started: float,
    ) -> RepairOutcome:
        repaired = bundle.with_files(fix.changed)
        files = dict(repaired.files)
        if self.patterns is not None:
            try:
                self.patterns.learn(repaired, source_sha256=bundle_sha256(files))
            except OSError as exc:
                # A full or read-only state root is the watcher's to report (once).
                level = "DEBUG" if disk_condition(exc) else "WARNING"
                logger.log(level, "pattern library not updated: {}", exc)
        details = dict(fix.details)
        if name != "noop":
            details.setdefault("candidates", ctx.budget.used)
        return RepairOutcome(
            repaired=True, strategy=name, pattern_id=fix.pattern_id,
            attempts=0 if name == "noop" else attempts, details=details, files=files,
            report=fix.report, first_run=first, candidates=ctx.budget.used,
            duration_s=time.monotonic() - started,
            llm_tokens=int(ctx.extra.get("llm_tokens", 0)),
        )


def _one_line_reason(reason: str, attempt: RepairAttempt) -> str:
    """The failure record's reason: the first run, each strategy's stop, the best
    partial candidate and the first failure's first line, at most MAX_REASON chars."""
    parts = [reason]
    if attempt.strategies:
        parts.append("tried " + ", ".join(
            f"{t.name} ({t.stopped}, {t.candidates} candidates)" for t in attempt.strategies))
    if attempt.best_partial is not None:
        bp = attempt.best_partial
        parts.append(f"best partial: {bp.passed} passed, {bp.failed} failed ({bp.strategy})")
    if attempt.first_failure:
        parts.append("first failure: " + attempt.first_failure.splitlines()[0][:160])
    text = "; ".join(parts)
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 3] + "..."
