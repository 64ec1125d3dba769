"""`heuristic_microfix`: small source edits at the most suspicious places first.

Fault localization (`repair.localize`) ranks the lines of the bundle's non-test Python
files; `repair.mutations` lists the edits of each file. Candidates are tried in order of
priority, the line's suspiciousness discounted by the edit's size, so the first one that
passes is the smallest edit at the most suspicious place. Single edits with a suspicious
anchor come first, then pairs of small edits at the top places, then single edits at
lines no failing test reached. Each candidate is judged only through `Context.judge`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from loguru import logger

from repair.localize import localize
from repair.mutations import Edit, FileModel, generate, pairs, render
from repair.report import TestReport
from repair.runner import SubprocessRunner
from repair.strategies.base import Context, Fix

# How much a bigger edit is discounted against a smaller one at an equally suspicious line.
COST_WEIGHT = {1: 1.0, 2: 0.85, 3: 0.7, 4: 0.55}
PAIR_POOL = 40          # best pairable single edits combined into pairs
FIRST_TIMEOUT = 1.0     # per-candidate limit while no run has finished yet (seconds)
ESCALATE_AFTER = 8      # ... doubled after this many timeouts in a row with none finished
TIMEOUT_FACTOR = 5.0    # a candidate may take this many times the fastest finished run
TIMEOUT_FLOOR = 0.5     # ... but never less (seconds): scheduling noise on a loaded host


@dataclass(frozen=True)
class _Candidate:
    edits: tuple[Edit, ...]
    score: float


class HeuristicMicrofix:
    """Tries single (then paired) micro-edits of the sources, most suspicious first.

    Returns None when no candidate passes within the budget it is given; a spent budget
    raises RepairBudgetExhausted out of `Context.judge`, which the engine records as the
    attempt's failure. Source files that do not parse are left alone.
    """

    name: ClassVar[str] = "heuristic_microfix"

    def attempt(self, ctx: Context) -> Fix | None:
        """Localize, generate, and judge candidates until one passes."""
        bundle = ctx.bundle
        log = logger.bind(bundle=bundle.sha256[:12], strategy=self.name)
        # conftest.py is test machinery: editing it could make tests pass by changing them.
        sources = {p: t for p, t in bundle.sources.items()
                   if p.endswith(".py") and p.rsplit("/", 1)[-1] != "conftest.py"}
        tests = {p: bundle.files[p] for p in bundle.tests if p in bundle.files}
        models: dict[str, FileModel] = {}
        for path, text in sources.items():
            try:
                models[path] = FileModel(path, text)
            except (SyntaxError, ValueError, RecursionError) as exc:
                log.info("not editing {}: it does not parse ({})", path, exc)
        if not models:
            return None
        self._fastest = self._finished_duration(ctx.first_run)
        self._timeouts_in_a_row = 0
        spectrum = self._spectrum(ctx)
        suspects = localize(
            sources, tests, spectrum.outcomes, coverage=spectrum.coverage,
            output=ctx.first_run.output, timed_out=ctx.first_run.timed_out,
        )
        scores = {(s.path, s.line): s.score for s in suspects}
        # Files no failing test reaches are edited last, and their edits are only listed
        # if the budget gets that far: a big bundle's cold files cost nothing up front.
        hot = {s.path for s in suspects if s.score > 0}
        edits = [e for p, m in models.items() if p in hot for e in generate(m)]
        cold = [m for p, m in models.items() if p not in hot]
        log.info("{} edits over {} suspicious lines ({}); {} files not reached",
                 len(edits), len(suspects),
                 "coverage" if spectrum.coverage else "static spectrum", len(cold))
        originals = {p: m.text for p, m in models.items()}
        seen: set[tuple[str, ...]] = set()
        tried = 0
        for cand in self._candidates(edits, scores, cold):
            changed = self._render(models, cand.edits)
            if changed is None:
                continue
            key = tuple(f"{p}\0{t}" for p, t in sorted(changed.items()))
            if key in seen or all(originals[p] == t for p, t in changed.items()):
                continue
            seen.add(key)
            report = ctx.judge(changed, timeout=self._timeout(ctx))
            tried += 1
            self._observe(report)
            if ctx.accepts(report):
                details = self._details(cand, tried, bool(spectrum.coverage))
                log.info("repaired with {} after {} candidates", details["edits"], tried)
                return Fix(changed=changed, report=report, details=details)
        log.info("no micro-fix among {} candidates", tried)
        return None

    # -- fault localization ------------------------------------------------------------

    @dataclass(frozen=True)
    class _Spectrum:
        outcomes: Mapping[str, bool]
        coverage: Mapping[str, Mapping[str, list[int]]] | None

    def _spectrum(self, ctx: Context) -> HeuristicMicrofix._Spectrum:
        """Per-test coverage when the runner can give it (one charged run), else None."""
        first = ctx.first_run
        if first.coverage:
            return self._Spectrum(first.outcomes, first.coverage)
        if isinstance(ctx.runner, SubprocessRunner) or first.timed_out:
            # The reference runner ignores coverage, and a run that hung would hang again.
            return self._Spectrum(first.outcomes, None)
        report = ctx.judge({}, coverage=True, timeout=self._timeout(ctx))
        self._observe(report)
        if report.coverage and any(not ok for ok in report.outcomes.values()):
            return self._Spectrum(report.outcomes, report.coverage)
        return self._Spectrum(first.outcomes, None)

    # -- candidate order ---------------------------------------------------------------

    def _candidates(
        self, edits: list[Edit], scores: Mapping[tuple[str, int], float],
        cold: list[FileModel],
    ) -> Iterator[_Candidate]:
        def score(edit: Edit) -> float:
            return scores.get((edit.path, edit.anchor), scores.get((edit.path, edit.line), 0.0))

        ranked = sorted(
            edits,
            key=lambda e: (-score(e) * COST_WEIGHT.get(e.cost, 0.4), e.cost, e.path, e.line,
                           e.seq),
        )
        suspicious = [e for e in ranked if score(e) > 0]
        for edit in suspicious:
            yield _Candidate((edit,), score(edit))
        cheap = [e for e in suspicious if e.cost <= 2]
        for first, second in pairs(cheap, PAIR_POOL):
            yield _Candidate((first, second), min(score(first), score(second)))
        for edit in ranked:
            if score(edit) <= 0:
                yield _Candidate((edit,), 0.0)
        for model in cold:
            for edit in sorted(generate(model), key=lambda e: (e.cost, e.line, e.seq)):
                yield _Candidate((edit,), 0.0)

    @staticmethod
    def _render(models: Mapping[str, FileModel], edits: tuple[Edit, ...]) -> dict[str, str] | None:
        model = models[edits[0].path]
        text = render(model, edits)
        return None if text is None else {model.path: text}

    # -- per-candidate time limit ------------------------------------------------------

    _fastest: float | None = None

    @staticmethod
    def _finished_duration(report: TestReport) -> float | None:
        if report.timed_out or report.crashed or report.duration_s <= 0:
            return None
        return report.duration_s

    _timeouts_in_a_row: int = 0

    def _observe(self, report: TestReport) -> None:
        took = self._finished_duration(report)
        self._timeouts_in_a_row = self._timeouts_in_a_row + 1 if report.timed_out else 0
        if took is not None and (self._fastest is None or took < self._fastest):
            self._fastest = took

    def _timeout(self, ctx: Context) -> float:
        """Well below the test timeout, so candidates that loop forever cost little:
        a few times the fastest run that finished, or FIRST_TIMEOUT before any did,
        doubled for every ESCALATE_AFTER timeouts in a row (a bundle whose tests are
        merely slow must not have every candidate cut short)."""
        if self._fastest is None:
            doublings = self._timeouts_in_a_row // ESCALATE_AFTER
            return min(ctx.test_timeout, FIRST_TIMEOUT * 2 ** min(doublings, 10))
        return min(ctx.test_timeout, max(TIMEOUT_FLOOR, TIMEOUT_FACTOR * self._fastest))

    @staticmethod
    def _details(cand: _Candidate, tried: int, coverage: bool) -> dict[str, Any]:
        return {
            "edits": [
                {"file": e.path, "line": e.line, "edit": e.label, "cost": e.cost}
                for e in cand.edits
            ],
            "candidates": tried,
            "suspiciousness": round(cand.score, 4),
            "localization": "coverage" if coverage else "static",
        }


__all__ = ["HeuristicMicrofix"]
