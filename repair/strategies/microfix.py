"""`heuristic_microfix`: small source edits at the most suspicious places first.

Fault localization (`repair.localize`) ranks the lines of the bundle's non-test Python
files; `repair.mutations` lists the edits of each file, and `repair.informed` adds the
edits the failures' own messages call for (`repair.symptoms`: a NameError asks for an
import or the nearest name, an AttributeError for the receiver's real attributes ...).
Candidates are tried in order of priority: the line's suspiciousness, raised for an edit
of a kind the exception at that line (or in that function) calls for and most for an
informed edit, discounted by the edit's size and halved again for an edit that deletes
behaviour (drops a call, an operand or a statement, or puts a constant where a value was
computed). Pairs of small edits are merged into that order at a discount, and single
edits at lines no failing test reached come last.

When a candidate passes, a few more of about the same priority are judged (more when
the passing one deletes behaviour): the most natural passing one is kept (no deletion
first, then priority), and the others are listed in the details as `alternatives`.
Each candidate is judged only through `Context.judge`.
"""

from __future__ import annotations

import ast
import heapq
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from loguru import logger

from repairlab.errors import RepairBudgetExhausted
from repairlab.repair.informed import informed_edits, module_top_names
from repairlab.repair.localize import localize, loop_lines
from repairlab.repair.mutations import Edit, FileModel, generate, pairs, render
from repairlab.repair.report import TestReport
from repairlab.repair.runner import SubprocessRunner
from repairlab.repair.strategies.base import Context, Fix
from repairlab.repair.symptoms import PREFERRED_KINDS, Symptom, symptoms

# How much a bigger edit is discounted against a smaller one at an equally suspicious line.
COST_WEIGHT = {1: 1.0, 2: 0.85, 3: 0.7, 4: 0.55}
PAIR_POOL = 64          # best pairable single edits combined into pairs ...
PAIR_PER_LINE = 8       # ... at most this many of one line: two places get their share
SPLIT_PER_LINE = 16     # ... or this many at a line only some failing tests reach
SPLIT_BONUS = 2.0       # a pair of lines whose failing tests split between them
PAIR_FACTOR = 0.9       # a pair's priority: its weaker member's at the pair's cost, times this
KIND_BONUS = 0.5        # an edit of a kind the exception at its line calls for
FUNCTION_KIND_BONUS = 0.25  # ... of a kind the exception in its function calls for
INFORMED_BONUS = 1.0    # an edit proposed from a failure's own message
DELETE_PENALTY = 0.5    # an edit that deletes behaviour ranks behind a natural one
EXTRA_AFTER_PASS = 5    # candidates judged after a natural pass, to list alternatives ...
EXTRA_AFTER_DELETION = 40  # ... or, after a pass that deletes behaviour, to find a natural one
EXTRA_SECONDS = 2.0     # ... within this much wall time (or 10 s after a deletion)
TIER = 0.8              # ... among candidates of at least this share of its priority
DELETION_TIER = 0.2     # ... or this share, after a deletion
ALTERNATIVES = 3        # passing runners-up listed in the details
FIRST_TIMEOUT = 1.0     # per-candidate limit while no run has finished yet (seconds)
ESCALATE_AFTER = 8      # ... doubled after this many timeouts in a row with none finished
TIMEOUT_FACTOR = 5.0    # a candidate may take this many times the fastest finished run
TIMEOUT_FLOOR = 0.5     # ... but never less (seconds): scheduling noise on a loaded host


@dataclass(frozen=True)
class _Candidate:
    edits: tuple[Edit, ...]
    score: float
    priority: float = 0.0

    @property
    def deletes(self) -> bool:
        return any(e.deletes for e in self.edits)


@dataclass(frozen=True)
class _Passed:
    cand: _Candidate
    changed: dict[str, str]
    report: TestReport
    order: int


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
        output = ctx.first_run.output + "\n" + spectrum.output
        found = symptoms(output, sources, timed_out=ctx.first_run.timed_out)
        suspects = localize(
            sources, tests, spectrum.outcomes, coverage=spectrum.coverage,
            output=output, timed_out=ctx.first_run.timed_out,
        )
        scores = {(s.path, s.line): s.score for s in suspects}
        # Files no failing test reaches are edited last, and their edits are only listed
        # if the budget gets that far: a big bundle's cold files cost nothing up front.
        hot = {s.path for s in suspects if s.score > 0} | {y.path for y in found if y.path}
        top_names = module_top_names(sources) if any(y.path for y in found) else {}
        edits = [e for p, m in models.items() if p in hot for e in generate(m)]
        informed = [e for p, m in models.items() if p in hot
                    for e in informed_edits(m, found, top_names)]
        for edit in informed:
            scores.setdefault((edit.path, edit.anchor), 0.0)
        cold = [m for p, m in models.items() if p not in hot]
        log.info("{} edits ({} from the failures' messages: {}) over {} suspicious lines ({}); "
                 "{} files not reached", len(edits) + len(informed), len(informed),
                 sorted({y.exc_type for y in found}) or "no exception", len(suspects),
                 "coverage" if spectrum.coverage else "static spectrum", len(cold))
        self._prefer = _Preferences.of(models, found, sources, ctx.first_run.timed_out)
        originals = {p: m.text for p, m in models.items()}
        seen: set[tuple[str, ...]] = set()
        tried = 0
        passed: list[_Passed] = []
        extra_until: tuple[int, float, float] | None = None  # (max tried, deadline, priority)
        self._split = _split_lines(spectrum.outcomes, spectrum.coverage)
        stream = self._candidates(informed + edits, scores, cold)
        try:
            for cand in stream:
                if extra_until is not None and (
                    tried >= extra_until[0] or time.monotonic() >= extra_until[1]
                    or cand.priority < extra_until[2] or len(passed) > ALTERNATIVES
                ):
                    break
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
                if not ctx.accepts(report):
                    continue
                passed.append(_Passed(cand, changed, report, tried))
                if extra_until is None:
                    more = EXTRA_AFTER_DELETION if cand.deletes else EXTRA_AFTER_PASS
                    budget = min(EXTRA_SECONDS * (5 if cand.deletes else 1),
                                 0.25 * ctx.budget.seconds_left())
                    floor = cand.priority * (DELETION_TIER if cand.deletes else TIER)
                    extra_until = (tried + more, time.monotonic() + budget, floor)
                    log.info("candidate {} passes ({}); judging up to {} more for a more "
                             "natural one", tried, _labels(cand), more)
                elif not cand.deletes:
                    break  # a natural pass: better than none, or an alternative to show
        except RepairBudgetExhausted:
            if not passed:
                raise
        if not passed:
            log.info("no micro-fix among {} candidates", tried)
            return None
        ranked = sorted(passed, key=lambda p: (p.cand.deletes, p.order))
        best = ranked[0]
        details = self._details(best.cand, tried, bool(spectrum.coverage))
        details["passed_at"] = best.order
        if found:
            details["symptoms"] = [
                {"exception": y.exc_type, "file": y.path, "line": y.line} for y in found[:5]
            ]
        if len(ranked) > 1:
            details["alternatives"] = [
                {"edits": [_edit_detail(e) for e in p.cand.edits],
                 "deletes_behaviour": p.cand.deletes} for p in ranked[1:1 + ALTERNATIVES]
            ]
        log.info("repaired with {} after {} candidates ({} passed)", details["edits"], tried,
                 len(passed))
        return Fix(changed=best.changed, report=best.report, details=details)

    # -- fault localization ------------------------------------------------------------

    @dataclass(frozen=True)
    class _Spectrum:
        outcomes: Mapping[str, bool]
        coverage: Mapping[str, Mapping[str, list[int]]] | None
        output: str = ""

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
            return self._Spectrum(report.outcomes, report.coverage, report.output)
        return self._Spectrum(first.outcomes, None, report.output)

    # -- candidate order ---------------------------------------------------------------

    _prefer: _Preferences | None = None
    # Per line reached by some but not all failing tests: which of them (see `_split_lines`).
    _split: Mapping[tuple[str, int], frozenset[str]] = {}

    def _candidates(
        self, edits: list[Edit], scores: Mapping[tuple[str, int], float],
        cold: list[FileModel],
    ) -> Iterator[_Candidate]:
        prefer = self._prefer or _Preferences()

        def score(edit: Edit) -> float:
            here = scores.get((edit.path, edit.anchor), scores.get((edit.path, edit.line), 0.0))
            # An edit of several places is as suspicious as the most suspicious of them.
            return max([here, *(scores.get((edit.path, line), 0.0) for line in edit.also)])

        def priority(edit: Edit) -> float:
            base = score(edit)
            if base <= 0 and not edit.informed:
                return 0.0
            base += prefer.bonus(edit)
            weight = COST_WEIGHT.get(edit.cost, 0.4)
            return base * weight * (DELETE_PENALTY if edit.deletes else 1.0)

        ranked = sorted(edits, key=lambda e: (-priority(e), e.cost, e.path, e.line, e.seq))
        suspicious = [e for e in ranked if priority(e) > 0]
        singles = (_Candidate((e,), score(e), priority(e)) for e in suspicious)
        split = self._split
        cheap = _pair_pool([e for e in suspicious if e.cost <= 2 and not e.deletes], split)
        def pair_priority(a: Edit, b: Edit) -> float:
            # A pair of two cheap edits weighs like one single edit one cost unit dearer
            # than both together, a little behind it.
            base = min(score(a) + prefer.bonus(a), score(b) + prefer.bonus(b))
            if _complementary(split, a, b):
                base *= SPLIT_BONUS
            return PAIR_FACTOR * base * COST_WEIGHT.get(min(4, a.cost + b.cost + 1), 0.4)

        pair_list = sorted(
            (_Candidate((a, b), min(score(a), score(b)), pair_priority(a, b))
             for a, b in pairs(cheap, PAIR_POOL)),
            key=lambda c: -c.priority,
        )
        yield from heapq.merge(singles, pair_list, key=lambda c: -c.priority)
        for edit in ranked:
            if priority(edit) <= 0:
                yield _Candidate((edit,), 0.0, 0.0)
        for model in cold:
            for edit in sorted(generate(model), key=lambda e: (e.cost, e.line, e.seq)):
                yield _Candidate((edit,), 0.0, 0.0)

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
            "edits": [_edit_detail(e) for e in cand.edits],
            "candidates": tried,
            "suspiciousness": round(cand.score, 4),
            "localization": "coverage" if coverage else "static",
        }


def _split_lines(outcomes: Mapping[str, bool],
                 coverage: Mapping[str, Mapping[str, list[int]]] | None,
                 ) -> dict[tuple[str, int], frozenset[str]]:
    """Lines that some failing tests reach and others do not, with the failing tests
    that reach each: where two slips each fail their own tests, a line of one and a
    line of the other together account for every failure (`_complementary`). Empty
    without per-test coverage or with fewer than two failing tests."""
    failing = frozenset(t for t, ok in outcomes.items() if not ok)
    if coverage is None or len(failing) < 2:
        return {}
    reached: dict[tuple[str, int], set[str]] = {}
    for test in failing:
        for path, lines in (coverage.get(test) or {}).items():
            for line in lines:
                reached.setdefault((path, line), set()).add(test)
    return {key: frozenset(tests) for key, tests in reached.items() if tests != failing}


def _complementary(split: Mapping[tuple[str, int], frozenset[str]], a: Edit, b: Edit) -> bool:
    """Whether `a` and `b` sit at two lines each reached by only some failing tests,
    different ones, which between them reach all the failing tests `split` knows of."""
    one = split.get((a.path, a.anchor)) or split.get((a.path, a.line))
    two = split.get((b.path, b.anchor)) or split.get((b.path, b.line))
    if not one or not two or one == two:
        return False
    every = frozenset().union(*split.values())
    return one | two == every


def _pair_pool(ranked: list[Edit],
               split: Mapping[tuple[str, int], frozenset[str]] | None = None) -> list[Edit]:
    """The pairable edits that pairs are made of: at most PAIR_PER_LINE of one line
    (SPLIT_PER_LINE of a line only some failing tests reach), so that a fix needing
    one edit at each of two lines (two slips, each failing its own tests) is not
    crowded out by the many edits of the single most suspicious line; and within a
    line, the best edit of each expression before a second one of any (every place
    of the line gets its share). Lines come in the order of their best edit."""
    split = split or {}
    lines: dict[tuple[str, int], dict[tuple[int, int], list[Edit]]] = {}
    for edit in ranked:
        if edit.pairable:
            at = (edit.spans[0][0], edit.spans[0][1])
            lines.setdefault((edit.path, edit.anchor), {}).setdefault(at, []).append(edit)
    pool: list[Edit] = []
    for key, places in lines.items():
        most = SPLIT_PER_LINE if key in split else PAIR_PER_LINE
        taken: list[Edit] = []
        rounds = max(len(v) for v in places.values())
        for depth in range(rounds):
            for edits in places.values():
                if depth < len(edits) and len(taken) < most:
                    taken.append(edits[depth])
        pool.extend(taken)
        if len(pool) >= PAIR_POOL:
            break
    return pool[:PAIR_POOL]


def _edit_detail(edit: Edit) -> dict[str, Any]:
    out: dict[str, Any] = {"file": edit.path, "line": edit.line, "edit": edit.label,
                           "cost": edit.cost}
    if edit.kind:
        out["kind"] = edit.kind
    if edit.deletes:
        out["deletes_behaviour"] = True
    return out


def _labels(cand: _Candidate) -> str:
    return "; ".join(e.label for e in cand.edits)


@dataclass
class _Preferences:
    """Which edit kinds the failures call for, and where: at a failure's own line, in
    its function, or (for a run that timed out) at the lines of loops."""

    at_line: dict[tuple[str, int], frozenset[str]] = field(default_factory=dict)
    in_function: dict[str, list[tuple[int, int, frozenset[str]]]] = field(default_factory=dict)
    loops: frozenset[tuple[str, int]] = frozenset()

    @classmethod
    def of(cls, models: Mapping[str, FileModel], found: list[Symptom],
           sources: Mapping[str, str], timed_out: bool) -> _Preferences:
        at_line: dict[tuple[str, int], frozenset[str]] = {}
        in_function: dict[str, list[tuple[int, int, frozenset[str]]]] = {}
        for sym in found:
            if sym.path is None or sym.line is None or not sym.kinds:
                continue
            key = (sym.path, sym.line)
            at_line[key] = at_line.get(key, frozenset()) | sym.kinds
            model = models.get(sym.path)
            if model is None:
                continue
            for node in ast.walk(model.tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) \
                        and node.lineno <= sym.line <= (node.end_lineno or node.lineno):
                    in_function.setdefault(sym.path, []).append(
                        (node.lineno, node.end_lineno or node.lineno, sym.kinds))
        loops = frozenset(loop_lines(sources)) if timed_out or any(
            y.exc_type in ("timeout", "RecursionError") for y in found) else frozenset()
        return cls(at_line, in_function, loops)

    def bonus(self, edit: Edit) -> float:
        if edit.informed:
            return INFORMED_BONUS
        kinds = self.at_line.get((edit.path, edit.anchor))
        if kinds and edit.kind in kinds:
            return KIND_BONUS
        for start, end, fkinds in self.in_function.get(edit.path, ()):
            if start <= edit.anchor <= end and edit.kind in fkinds:
                return FUNCTION_KIND_BONUS
        if (edit.path, edit.anchor) in self.loops and edit.kind in PREFERRED_KINDS["timeout"]:
            return FUNCTION_KIND_BONUS
        return 0.0


__all__ = ["HeuristicMicrofix"]
