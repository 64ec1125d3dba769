"""`pattern_transplant`: replace a failing definition with a known-good one.

The definitions to replace are found statically: those whose lines appear in the
first run's tracebacks, then those the failing tests call, then the rest of the
entrypoint's top-level definitions (at most `MAX_TARGETS`). For each, the library's
`max_patterns` best-ranked patterns are tried one at a time: only the definition's
own lines are replaced, and the pattern's imports are added when missing.
"""

from __future__ import annotations

import ast
import re
from typing import ClassVar

from loguru import logger

from repairlab.repair.bundle import Bundle
from repairlab.repair.callsites import scan_tests
from repairlab.repair.definitions import PARSE_ERRORS, Definition, definitions, traceback_lines
from repairlab.repair.patterns import Pattern
from repairlab.repair.strategies.base import Context, Fix

MAX_TARGETS = 4
DEFAULT_MAX_PATTERNS = 5


def targets(bundle: Bundle, outcomes: dict[str, bool], output: str) -> list[Definition]:
    """The entrypoint's top-level definitions, most suspicious first (see module doc)."""
    defs = definitions(bundle.files.get(bundle.entrypoint, ""))
    lines = traceback_lines(output, bundle.entrypoint)
    failing = scan_tests(bundle, outcomes).failing_names

    def rank(item: tuple[int, Definition]) -> tuple[int, int]:
        index, d = item
        hits = sum(1 for line in lines if d.start <= line <= d.end)
        return (-(2 * (hits > 0) + (d.name in failing)), index)

    ordered = [d for _, d in sorted(enumerate(defs), key=rank)]
    return ordered[:MAX_TARGETS]


def _renamed(pattern: Pattern, name: str) -> str:
    if pattern.name == name:
        return pattern.source
    header = re.compile(rf"^(\s*(?:async\s+def|def|class)\s+){re.escape(pattern.name)}\b",
                        re.MULTILINE)
    return header.sub(lambda m: m.group(1) + name, pattern.source, count=1)


def _with_imports(source: str, imports: tuple[str, ...]) -> str | None:
    """`source` with each import added after its last top-level import (or its
    docstring) unless already there; None when the result does not parse."""
    try:
        tree = ast.parse(source)
    except PARSE_ERRORS:
        return None
    have = {ast.unparse(n) for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)}
    missing = [i for i in imports if i not in have]
    if not missing:
        return source
    after = 0
    for node in tree.body:
        is_doc = (node is tree.body[0] and isinstance(node, ast.Expr)
                  and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str))
        if is_doc or isinstance(node, ast.Import | ast.ImportFrom):
            after = node.end_lineno or node.lineno
    lines = source.splitlines(keepends=True)
    if after and lines and not lines[after - 1].endswith("\n"):
        lines[after - 1] += "\n"
    lines[after:after] = [line + "\n" for line in missing]
    text = "".join(lines)
    try:
        ast.parse(text)
    except PARSE_ERRORS:
        return None
    return text


def transplant(source: str, target: Definition, pattern: Pattern) -> str | None:
    """`source` with `target`'s lines replaced by the pattern (renamed to the target's
    name) and the pattern's imports added; None when that does not parse."""
    lines = source.splitlines(keepends=True)
    body = _renamed(pattern, target.name)
    if not body.endswith("\n"):
        body += "\n"
    lines[target.start - 1 : target.end] = [body]
    return _with_imports("".join(lines), pattern.imports)


class PatternTransplant:
    """Tries the library's best patterns in place of the most suspicious definitions.

    Returns None when there is no library (`ctx.patterns` is None), no pattern fits,
    or none passes. May raise RepairBudgetExhausted through `Context.judge`.
    """

    name: ClassVar[str] = "pattern_transplant"

    def attempt(self, ctx: Context) -> Fix | None:
        """Judge patterns target by target, best-ranked first; the first that passes wins."""
        library = ctx.patterns
        bundle = ctx.bundle
        source = bundle.files.get(bundle.entrypoint)
        if library is None or source is None:
            return None
        log = logger.bind(bundle=bundle.sha256[:12], strategy=self.name)
        limit = getattr(ctx.settings, "max_patterns", DEFAULT_MAX_PATTERNS)
        tried = 0
        try:
            suspects = targets(bundle, ctx.first_run.outcomes, ctx.first_run.output)
        except RecursionError:
            log.info("source nested too deeply to analyse")
            return None
        for target in suspects:
            patterns = library.candidates(bundle, target.name, target.signature, bundle.tool,
                                          limit, kind=target.kind)
            for pattern in patterns:
                try:
                    text = transplant(source, target, pattern)
                except RecursionError:
                    text = None
                if text is None or text == source:
                    continue
                tried += 1
                report = ctx.judge({bundle.entrypoint: text})
                if ctx.accepts(report):
                    log.info("pattern {} replaced {}", pattern.id, target.name)
                    details = {"replaced": target.name, "tried": tried, **pattern.provenance()}
                    return Fix(changed={bundle.entrypoint: text}, report=report,
                               details=details, pattern_id=pattern.id)
        log.info("no pattern passed ({} tried)", tried)
        return None
