"""Spectrum-based fault localization: which lines of a bundle are most suspicious.

The main path is Ochiai over per-test line coverage (`TestReport.coverage`):

    ochiai(s) = failed(s) / sqrt(total_failed * (failed(s) + passed(s)))

When the runner gives no coverage, the same formula runs over a *static* spectrum:
each test is taken to execute every line of the source functions it can reach by
name through the call graph. Lines a traceback points at and, when the run timed
out, lines inside loops get a bonus, so that the places a failure names come first.

Everything here is a pure function of its inputs: no process is run, nothing is read
from disk. Source that does not parse simply contributes no lines.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# A traceback entry, e.g. "pkg/mod.py:12: in helper" or "pkg/mod.py:7: ZeroDivisionError".
_TB_LINE = re.compile(r"^(?:\s*File \")?([\w./\\-]+\.py)\"?(?::|, line )(\d+)", re.MULTILINE)

Spectrum = Mapping[str, Mapping[str, Iterable[int]]]

TRACEBACK_BONUS = 0.3
LOOP_BONUS = 0.2
# A `while` that never ends has a wrong condition or a wrong update of what it tests:
# its header and those updates get this on top of LOOP_BONUS.
PROGRESS_BONUS = 0.2
# A module-level constant read by a suspicious line inherits this share of its score:
# coverage attributes import-time lines to no test, so a wrong table would score 0.
DATA_SHARE = 0.8


@dataclass(frozen=True, order=True)
class Suspect:
    """One line of one source file and how suspicious it is (0..1 plus bonuses)."""

    path: str
    line: int
    score: float


def ochiai(coverage: Spectrum, outcomes: Mapping[str, bool]) -> dict[tuple[str, int], float]:
    """Ochiai score of every line covered by at least one test.

    `coverage` maps a test's node id to ``{path: lines}``; `outcomes` maps node ids to
    passed. A test missing from `outcomes` is ignored; a failing test missing from
    `coverage` still counts in `total_failed` (it covered nothing we can see). With no
    failing test every score is 0. When no test passes this ranks lines by how many
    failing tests cover them, which is the failing tests' lines first.
    """
    total_failed = sum(1 for ok in outcomes.values() if not ok)
    failed: dict[tuple[str, int], int] = {}
    passed: dict[tuple[str, int], int] = {}
    for nodeid, per_file in coverage.items():
        if nodeid not in outcomes:
            continue
        bucket = passed if outcomes[nodeid] else failed
        for path, lines in per_file.items():
            for line in set(lines):
                bucket[(path, line)] = bucket.get((path, line), 0) + 1
    scores: dict[tuple[str, int], float] = {}
    for key in set(failed) | set(passed):
        f, p = failed.get(key, 0), passed.get(key, 0)
        denom = math.sqrt(total_failed * (f + p))
        scores[key] = f / denom if denom else 0.0
    return scores


def rank(scores: Mapping[tuple[str, int], float]) -> list[Suspect]:
    """Suspects ordered most suspicious first; ties in file then line order."""
    return sorted(
        (Suspect(path, line, score) for (path, line), score in scores.items()),
        key=lambda s: (-s.score, s.path, s.line),
    )


@dataclass
class _Func:
    path: str
    name: str
    lines: set[int]
    calls: set[str]


def _parse(text: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError):
        return None


def _stmt_lines(nodes: Iterable[ast.AST]) -> set[int]:
    lines: set[int] = set()
    for top in nodes:
        for node in ast.walk(top):
            if isinstance(node, ast.stmt):
                lines.add(node.lineno)
    return lines


def _called_names(node: ast.AST) -> set[str]:
    names: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            names.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            names.add(sub.attr)
    return names


def _functions(sources: Mapping[str, str]) -> tuple[list[_Func], dict[str, set[int]]]:
    """Every function (and method) of the sources, and each file's module-level lines."""
    funcs: list[_Func] = []
    module_lines: dict[str, set[int]] = {}
    for path, text in sources.items():
        if not path.endswith(".py"):
            continue
        tree = _parse(text)
        if tree is None:
            continue
        top: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                body_lines = _stmt_lines(node.body) | {node.lineno}
                funcs.append(_Func(path, node.name, body_lines, _called_names(node)))
        for stmt in tree.body:
            top.add(stmt.lineno)
            if isinstance(stmt, ast.ClassDef):
                # A class's own body (not its methods) runs at import, like module code.
                for sub in stmt.body:
                    if not isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef):
                        top |= _stmt_lines([sub])
        module_lines[path] = top
    return funcs, module_lines


def _test_functions(tests: Mapping[str, str]) -> dict[tuple[str, str], ast.AST]:
    """(test file, function name) -> the test function's node, methods included."""
    found: dict[tuple[str, str], ast.AST] = {}
    for path, text in tests.items():
        tree = _parse(text)
        if tree is None:
            continue
        helpers = _called_names(ast.Module(body=[
            s for s in tree.body if not isinstance(s, ast.FunctionDef | ast.ClassDef)
        ], type_ignores=[]))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                # Module-level helpers and fixtures in the test file count as reached too.
                found[(path, node.name)] = node
        found[(path, "<module>")] = ast.Module(body=[ast.Expr(ast.Name(n)) for n in helpers],
                                               type_ignores=[])
    return found


def _nodeid_key(nodeid: str) -> tuple[str, str]:
    path, _, rest = nodeid.partition("::")
    name = rest.rsplit("::", 1)[-1].split("[", 1)[0]
    return path, name


def static_spectrum(
    sources: Mapping[str, str], tests: Mapping[str, str], nodeids: Iterable[str]
) -> dict[str, dict[str, list[int]]]:
    """An approximate per-test coverage from the call graph, for runners without coverage.

    A test "covers" the module-level lines of every source file and every line of
    each source function reachable by name from its body (and from the helpers of
    its test file). A node id whose function cannot be found covers every function:
    that errs on the side of keeping the real fault in view.
    """
    funcs, module_lines = _functions(sources)
    by_name: dict[str, list[_Func]] = {}
    for func in funcs:
        by_name.setdefault(func.name, []).append(func)
    test_nodes = _test_functions(tests)
    spectrum: dict[str, dict[str, list[int]]] = {}
    for nodeid in nodeids:
        path, name = _nodeid_key(nodeid)
        node = test_nodes.get((path, name))
        reached: list[_Func]
        if node is None:
            reached = funcs
        else:
            names = _called_names(node)
            helper = test_nodes.get((path, "<module>"))
            if helper is not None:
                names |= _called_names(helper)
            for helper_name in list(names):
                extra = test_nodes.get((path, helper_name))
                if extra is not None and extra is not node:
                    names |= _called_names(extra)
            reached = _closure(names, by_name)
        per_file: dict[str, set[int]] = {p: set(lines) for p, lines in module_lines.items()}
        for func in reached:
            per_file.setdefault(func.path, set()).update(func.lines)
        spectrum[nodeid] = {p: sorted(lines) for p, lines in per_file.items()}
    return spectrum


def _closure(names: set[str], by_name: Mapping[str, list[_Func]]) -> list[_Func]:
    seen: dict[int, _Func] = {}
    todo = [f for n in names for f in by_name.get(n, [])]
    while todo:
        func = todo.pop()
        if id(func) in seen:
            continue
        seen[id(func)] = func
        todo.extend(f for n in func.calls for f in by_name.get(n, []))
    return list(seen.values())


def traceback_lines(output: str, sources: Iterable[str]) -> set[tuple[str, int]]:
    """The (path, line) pairs of source files that the test output's tracebacks name.

    Paths are matched by suffix, since the runner may print them absolute or relative.
    Unparseable output yields nothing.
    """
    wanted = sorted(sources, key=len, reverse=True)
    found: set[tuple[str, int]] = set()
    for match in _TB_LINE.finditer(output):
        printed = match.group(1).replace("\\", "/")
        for path in wanted:
            if printed == path or printed.endswith("/" + path):
                found.add((path, int(match.group(2))))
                break
    return found


def loop_lines(sources: Mapping[str, str]) -> set[tuple[str, int]]:
    """Every statement line inside (or heading) a `while` or `for` loop, and every line
    of a function that calls itself: where a run that never ends is likely stuck."""
    found: set[tuple[str, int]] = set()
    for path, text in sources.items():
        tree = _parse(text) if path.endswith(".py") else None
        if tree is None:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.While | ast.For):
                found |= {(path, ln) for ln in _stmt_lines([node])}
            elif isinstance(node, ast.FunctionDef) and node.name in _called_names(
                ast.Module(body=node.body, type_ignores=[])
            ):
                found |= {(path, ln) for ln in _stmt_lines(node.body)}
    return found


def data_dependencies(sources: Mapping[str, str]) -> dict[tuple[str, int], set[tuple[str, int]]]:
    """For each module-level assignment line, the lines of the same file that read one
    of the names it assigns."""
    deps: dict[tuple[str, int], set[tuple[str, int]]] = {}
    for path, text in sources.items():
        tree = _parse(text) if path.endswith(".py") else None
        if tree is None:
            continue
        defined: dict[str, int] = {}
        for stmt in tree.body:
            if isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for target in targets:
                    for node in ast.walk(target):
                        if isinstance(node, ast.Name):
                            defined[node.id] = stmt.lineno
        if not defined:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.stmt):
                for sub in ast.walk(node):
                    if (isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load)
                            and sub.id in defined and defined[sub.id] != node.lineno):
                        deps.setdefault((path, defined[sub.id]), set()).add((path, node.lineno))
    return deps


def progress_lines(sources: Mapping[str, str]) -> set[tuple[str, int]]:
    """The header of every `while` loop and each statement in its body that assigns a
    name its condition reads: where a loop that never ends goes wrong."""
    found: set[tuple[str, int]] = set()
    for path, text in sources.items():
        tree = _parse(text) if path.endswith(".py") else None
        if tree is None:
            continue
        for loop in ast.walk(tree):
            if not isinstance(loop, ast.While):
                continue
            found.add((path, loop.lineno))
            tested = {n.id for n in ast.walk(loop.test) if isinstance(n, ast.Name)}
            for stmt in ast.walk(ast.Module(body=loop.body, type_ignores=[])):
                targets: list[ast.AST] = []
                if isinstance(stmt, ast.Assign):
                    targets = list(stmt.targets)
                elif isinstance(stmt, ast.AugAssign | ast.AnnAssign):
                    targets = [stmt.target]
                names = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
                if names & tested:
                    found.add((path, stmt.lineno))  # type: ignore[attr-defined]
    return found


def localize(
    sources: Mapping[str, str],
    tests: Mapping[str, str],
    outcomes: Mapping[str, bool],
    *,
    coverage: Spectrum | None = None,
    output: str = "",
    timed_out: bool = False,
) -> list[Suspect]:
    """Rank the source lines most suspicious first.

    With `coverage` holding a failing test, plain Ochiai over it. Otherwise the static
    spectrum stands in for coverage; when `outcomes` is empty (the run timed out or
    crashed before any test reported) every test function of the test files is taken
    as failing. A module-level assignment read by suspicious lines inherits DATA_SHARE
    of their score (import-time lines belong to no test). Lines named by a traceback
    in `output` get a bonus, and so do loop lines (most of all a `while` header and the
    updates of what it tests) when the run `timed_out`. Never raises on odd input;
    source that does not parse ranks nothing.
    """
    if coverage and any(not ok for nid, ok in outcomes.items() if nid in coverage):
        scores = ochiai(coverage, outcomes)
    else:
        effective = dict(outcomes)
        if not any(not ok for ok in effective.values()):
            # Nothing reported as failing: the whole run failed (timeout, crash,
            # collection error), so every test is a failing one.
            effective = {f"{p}::{n}": False for (p, n) in _test_functions(tests)
                         if n.startswith("test")}
        spectrum = static_spectrum(sources, tests, effective)
        scores = ochiai(spectrum, effective)
    for line, readers in data_dependencies(sources).items():
        inherited = DATA_SHARE * max((scores.get(r, 0.0) for r in readers), default=0.0)
        if inherited > scores.get(line, 0.0):
            scores[line] = inherited
    for key in traceback_lines(output, sources):
        scores[key] = scores.get(key, 0.0) + TRACEBACK_BONUS
    if timed_out:
        for key in loop_lines(sources):
            if key in scores:
                scores[key] += LOOP_BONUS
        for key in progress_lines(sources):
            if key in scores:
                scores[key] += PROGRESS_BONUS
    return rank(scores)
