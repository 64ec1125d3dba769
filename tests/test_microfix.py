"""Fault localization, micro-edits and the `heuristic_microfix` strategy end to end."""

from __future__ import annotations

import ast
import math
import textwrap
from collections.abc import Iterator

import pytest

from repairlab.repair.bundle import Bundle
from repairlab.repair.corpus import DEFAULT_ROOT, Case, load_case
from repairlab.repair.engine import Engine, RepairOutcome, RepairSettings
from repairlab.repair.localize import (
    localize,
    loop_lines,
    ochiai,
    progress_lines,
    rank,
    static_spectrum,
    traceback_lines,
)
from repairlab.repair.mutations import FileModel, generate, pairs, render
from repairlab.repair.report import TestReport
from repairlab.repair.runner import Runner, SubprocessRunner, make_runner
from repairlab.repair.strategies.base import Budget, Context
from repairlab.repair.strategies.microfix import (
    ESCALATE_AFTER,
    FIRST_TIMEOUT,
    PAIR_PER_LINE,
    TIMEOUT_FLOOR,
    HeuristicMicrofix,
    _complementary,
    _pair_pool,
    _split_lines,
)

# -- fault localization on hand-made spectra -------------------------------------------


def test_ochiai_scores_a_line_only_failing_tests_run_highest() -> None:
    coverage = {
        "t::fail": {"m.py": [1, 2, 3]},
        "t::pass1": {"m.py": [1, 2]},
        "t::pass2": {"m.py": [1]},
    }
    outcomes = {"t::fail": False, "t::pass1": True, "t::pass2": True}
    scores = ochiai(coverage, outcomes)
    assert scores[("m.py", 3)] == 1.0
    assert scores[("m.py", 2)] == pytest.approx(1 / math.sqrt(2))
    assert scores[("m.py", 1)] == pytest.approx(1 / math.sqrt(3))
    assert [s.line for s in rank(scores)] == [3, 2, 1]


def test_ochiai_gives_zero_to_lines_only_passing_tests_run() -> None:
    scores = ochiai({"a": {"m.py": [1, 9]}, "b": {"m.py": [1]}}, {"a": True, "b": False})
    assert scores[("m.py", 9)] == 0.0
    assert scores[("m.py", 1)] == pytest.approx(1 / math.sqrt(2))


def test_ochiai_with_no_passing_test_ranks_lines_by_failing_tests_covering_them() -> None:
    coverage = {"a": {"m.py": [1, 2]}, "b": {"m.py": [1]}, "c": {"m.py": [1, 5]}}
    scores = ochiai(coverage, {"a": False, "b": False, "c": False})
    assert scores[("m.py", 1)] == 1.0
    assert scores[("m.py", 2)] == pytest.approx(math.sqrt(1 / 3))
    assert rank(scores)[0].line == 1


def test_ochiai_with_no_failing_test_scores_everything_zero() -> None:
    scores = ochiai({"a": {"m.py": [1, 2]}}, {"a": True})
    assert set(scores.values()) == {0.0}


SOURCES = {
    "m.py": textwrap.dedent("""\
        def helper(x):
            return x + 1

        def buggy(x):
            y = helper(x)
            return y * 3

        def fine(x):
            return helper(x) - 1
    """),
}
TESTS = {
    "test_m.py": textwrap.dedent("""\
        from m import buggy, fine

        def test_buggy():
            assert buggy(1) == 5

        def test_fine():
            assert fine(1) == 1
    """),
}


def test_static_spectrum_follows_the_call_graph_from_each_test() -> None:
    spectrum = static_spectrum(SOURCES, TESTS, ["test_m.py::test_buggy", "test_m.py::test_fine"])
    assert {5, 6, 2}.issubset(spectrum["test_m.py::test_buggy"]["m.py"])
    assert 9 not in spectrum["test_m.py::test_buggy"]["m.py"]
    assert 9 in spectrum["test_m.py::test_fine"]["m.py"]


def test_localize_without_coverage_ranks_the_failing_tests_own_function_first() -> None:
    suspects = localize(SOURCES, TESTS, {"test_m.py::test_buggy": False,
                                         "test_m.py::test_fine": True})
    top = {s.line for s in suspects if s.score == suspects[0].score}
    assert top == {5, 6}  # the def line runs at import, for every test
    assert {s.line: s.score for s in suspects}[9] == 0.0


def test_localize_prefers_coverage_when_given() -> None:
    coverage = {"test_m.py::test_buggy": {"m.py": [6]}, "test_m.py::test_fine": {"m.py": [9]}}
    suspects = localize(SOURCES, TESTS, {"test_m.py::test_buggy": False,
                                         "test_m.py::test_fine": True}, coverage=coverage)
    assert suspects[0].line == 6 and suspects[0].score == 1.0


def test_traceback_lines_of_source_files_get_a_bonus() -> None:
    output = "m.py:2: in helper\n    return x + 1\nE   TypeError\ntest_m.py:4: TypeError\n"
    assert traceback_lines(output, SOURCES) == {("m.py", 2)}
    suspects = localize(SOURCES, TESTS, {"test_m.py::test_buggy": False,
                                         "test_m.py::test_fine": True}, output=output)
    assert suspects[0].line == 2


def test_a_run_that_timed_out_puts_loop_lines_first() -> None:
    sources = {"w.py": "def f(n):\n    x = 0\n    while n:\n        x += 1\n    return x\n"}
    tests = {"test_w.py": "from w import f\n\ndef test_f():\n    assert f(2) == 2\n"}
    assert loop_lines(sources) == {("w.py", 3), ("w.py", 4)}
    suspects = localize(sources, tests, {}, timed_out=True)
    assert {s.line for s in suspects[:2]} == {3, 4}


def test_a_loop_that_never_ends_points_at_its_condition_and_updates_first() -> None:
    sources = {"w.py": textwrap.dedent("""\
        def f(s):
            i = 0
            out = 0
            while i < len(s):
                out += 1
                i = i
            return out
    """)}
    tests = {"test_w.py": "from w import f\n\ndef test_f():\n    assert f('ab') == 2\n"}
    assert progress_lines(sources) == {("w.py", 4), ("w.py", 6)}
    suspects = localize(sources, tests, {}, timed_out=True)
    assert {s.line for s in suspects[:2]} == {4, 6}


# -- the edits --------------------------------------------------------------------------


def rendered(src: str) -> dict[str, str]:
    """Every rendered single edit of `src`: new text -> label."""
    model = FileModel("m.py", textwrap.dedent(src))
    out: dict[str, str] = {}
    for edit in generate(model):
        text = render(model, [edit])
        if text is not None:
            out.setdefault(text, edit.label)
    return out


EDIT_KINDS = [
    ("compare < to <=", "def f(a, b):\n    return a < b\n", "return a <= b"),
    ("compare == to !=", "def f(a, b):\n    return a == b\n", "return a != b"),
    ("is to is not", "def f(a):\n    return a is None\n", "return a is not None"),
    ("in to not in", "def f(a, b):\n    return a in b\n", "return a not in b"),
    ("arithmetic + to -", "def f(a, b):\n    return a + b\n", "return a - b"),
    ("arithmetic / to //", "def f(a, b):\n    return a / b\n", "return a // b"),
    ("bitwise & to |", "def f(a, b):\n    return a & b\n", "return a | b"),
    ("shift << to >>", "def f(a, b):\n    return a << b\n", "return a >> b"),
    ("constant + 1", "def f(a):\n    return a * 2\n", "return a * 3"),
    ("constant - 1", "def f(a):\n    return a * 2\n", "return a * 1"),
    ("index + 1", "def f(xs, i):\n    return xs[i]\n", "return xs[i + 1]"),
    ("slice bound - 1", "def f(xs, n):\n    return xs[:n]\n", "return xs[:n - 1]"),
    ("integer expression + 1", "def f(xs, n):\n    return xs[n * 2]\n",
     "return xs[n * 2 + 1]"),
    ("offset folded, not stacked", "def f(xs, n):\n    return xs[n - 1]\n", "return xs[n]\n"),
    ("offset grown", "def f(xs, n):\n    return xs[:n - 2]\n", "return xs[:n - 3]\n"),
    ("swapped operands", "def f(a, b):\n    return a - b\n", "return b - a"),
    ("name replaced", "def f(a, b):\n    c = a\n    return c\n", "return b"),
    ("attribute replaced", "def f(p):\n    return p.w * p.w + p.h\n", "return p.w * p.h + p.h"),
    ("negated if", "def f(a):\n    if a:\n        return 1\n    return 2\n", "if not a:"),
    ("negated while", "def f(a):\n    while a:\n        a -= 1\n    return a\n", "while not a:"),
    ("negated ternary", "def f(a):\n    return 1 if a else 2\n", "return 1 if not a else 2"),
    ("negated assert", "def f(a):\n    assert a\n    return a\n", "assert not a"),
    ("and to or", "def f(a, b):\n    return a and b\n", "return a or b"),
    ("True to False", "def f(xs):\n    return sorted(xs, reverse=True)\n", "reverse=False"),
    ("any to all", "def f(xs):\n    return any(xs)\n", "return all(xs)"),
    ("min to max", "def f(a, b):\n    return min(a, b)\n", "return max(a, b)"),
    ("swapped call arguments", "def f(a, b):\n    return g(a, b)\n", "return g(b, a)"),
    ("swapped tuple elements", "def f(a, b):\n    a, b = b, a % b\n    return a\n",
     "a, b = (a % b, b)"),
    ("swapped subscripts", "def f(m, i, j):\n    return m[i][j]\n", "return m[j][i]"),
    ("call unwrapped", "def f(xs):\n    return sorted(xs)\n", "return xs\n"),
    ("method call unwrapped", "def f(s):\n    return s.strip()\n", "return s\n"),
    ("operand dropped", "def f(a, b):\n    return a + b + 1\n", "return a + b\n"),
    ("statement deleted", "def f(xs):\n    xs.append(1)\n    return xs\n",
     "def f(xs):\n    return xs\n"),
    ("statement inserted again", "def f(xs):\n    for x in xs:\n        g(x)\n    return xs\n",
     "        g(x)\n    g(x)\n    return xs"),
    ("return value changed", "def f(a, b):\n    return a\n", "return None"),
    ("return other variable", "def f(a, b):\n    return a\n", "return b"),
    ("None guard", "def f(s):\n    return s.strip()\n",
     "def f(s):\n    if s is None:\n        return None\n    return s.strip()"),
    ("range(n) to range(n + 1)", "def f(n):\n    return list(range(n))\n", "range(n + 1)"),
    ("range(n) to range(1, n)", "def f(n):\n    return list(range(n))\n", "range(1, n)"),
    ("augmented -= to +=", "def f(a):\n    a -= 1\n    return a\n", "a += 1"),
    ("break to continue", "def f(xs):\n    for x in xs:\n        break\n    return xs\n",
     "        continue\n"),
    ("statements swapped", "def f(d, x):\n    d[x] = 1\n    y = x in d\n    return y\n",
     "    y = x in d\n    d[x] = 1\n"),
    ("comprehension filter negated", "def f(xs):\n    return [x for x in xs if x]\n",
     "if not x]"),
]


@pytest.mark.parametrize(("kind", "src", "expected"), EDIT_KINDS, ids=[k[0] for k in EDIT_KINDS])
def test_each_edit_kind_produces_its_candidate(kind: str, src: str, expected: str) -> None:
    texts = rendered(src)
    assert any(expected in text for text in texts), f"{kind}: no candidate with {expected!r}"


def test_edits_keep_the_rest_of_the_file_byte_identical() -> None:
    src = "# a comment\nX = [1,   2]  # odd spacing\n\ndef f(a, b):\n    return a<b  # here\n"
    for text in rendered(src):
        changed = [
            (old, new) for old, new in zip(src.splitlines(), text.splitlines(), strict=False)
            if old != new
        ]
        assert len(changed) <= 1 or "insert" in text
    # Only the edited node is re-rendered; its spacing, not the line's, is normalized.
    assert "# a comment\nX = [1,   2]  # odd spacing\n\ndef f(a, b):\n    return a <= b  # here\n" \
        in rendered(src)


def test_operator_swaps_add_parentheses_when_precedence_needs_them() -> None:
    texts = rendered("def f(a, b, c):\n    return a - b * c\n")
    assert "def f(a, b, c):\n    return a - (b + c)\n" in texts
    for text in texts:
        ast.parse(text)  # every candidate is valid Python


def test_every_candidate_parses_and_differs_from_the_original() -> None:
    case = load_case(DEFAULT_ROOT / "expr_eval")
    src = case.bundle.files["calc/evaluator.py"]
    model = FileModel("calc/evaluator.py", src)
    edits = generate(model)
    assert len(edits) > 100
    for edit in edits:
        text = render(model, [edit])
        if text is not None:
            assert text != src, edit.label
            ast.parse(text)


def test_pairs_combine_two_edits_at_different_places() -> None:
    model = FileModel("m.py", "def f(a, b):\n    x = a + 1\n    return x < b\n")
    edits = [e for e in generate(model) if e.cost == 1]
    both = "def f(a, b):\n    x = a - 1\n    return x <= b\n"
    texts = {render(model, list(pair)) for pair in pairs(edits, 50)}
    assert both in texts


# -- the strategy -----------------------------------------------------------------------


def context(bundle: Bundle, first: TestReport, test_timeout: float = 30.0,
            runner: Runner | None = None) -> Context:
    """A Context as the engine builds it, for unit tests of the strategy's helpers."""
    return Context(bundle=bundle, first_run=first, runner=runner or SubprocessRunner(),
                   budget=Budget(1e18, 10), test_timeout=test_timeout,
                   expected_tests=first.total)


def test_candidates_that_hang_are_dismissed_well_below_the_test_timeout() -> None:
    strategy = HeuristicMicrofix()
    bundle = Bundle({"m.py": "", "test_m.py": ""}, ("test_m.py",), "m.py")
    ctx = context(bundle, TestReport(timed_out=True, duration_s=30.0))
    strategy._fastest = None
    assert strategy._timeout(ctx) == FIRST_TIMEOUT
    for _ in range(ESCALATE_AFTER):
        strategy._observe(TestReport(timed_out=True, duration_s=FIRST_TIMEOUT))
    assert strategy._timeout(ctx) == 2 * FIRST_TIMEOUT  # maybe the tests are just slow
    strategy._observe(TestReport(duration_s=0.3, exit_code=1, failed=1))
    assert strategy._timeout(ctx) == pytest.approx(1.5)
    strategy._observe(TestReport(duration_s=0.05, exit_code=1, failed=1))
    assert strategy._timeout(ctx) == TIMEOUT_FLOOR
    strategy._observe(TestReport(duration_s=0.01, timed_out=True))
    assert strategy._timeout(ctx) == TIMEOUT_FLOOR


@pytest.fixture(scope="module")
def runner() -> Iterator[Runner]:
    """The production runner (warm, sandboxed where it can be): real child processes."""
    made = make_runner()
    yield made
    made.close()


def repair_case(name: str, runner: Runner) -> tuple[Case, RepairOutcome]:
    """Repair one corpus case with noop and heuristic_microfix only."""
    case = load_case(DEFAULT_ROOT / name)
    settings = RepairSettings(strategies=("noop", "heuristic_microfix"),
                              test_timeout_seconds=case.test_timeout or 30.0,
                              bundle_timeout_seconds=60.0)
    return case, Engine(settings, runner).repair(case.bundle)


@pytest.mark.parametrize("name", ["fizzbuzz", "gcd", "csv_split", "parse_int", "rect", "two_sum"])
def test_microfix_repairs_representative_corpus_cases(name: str, runner: Runner) -> None:
    case, outcome = repair_case(name, runner)
    assert outcome.repaired, outcome.reason
    assert outcome.strategy == "heuristic_microfix"
    assert outcome.files is not None
    for test in case.bundle.tests:
        assert outcome.files[test] == case.bundle.files[test]
    edits = outcome.details["edits"]
    assert len(edits) in (1, 2)
    assert all(e["file"] in case.bundle.sources for e in edits)
    assert all(isinstance(e["line"], int) and e["edit"] for e in edits)
    assert outcome.details["candidates"] >= 1
    assert outcome.details["suspiciousness"] > 0
    assert outcome.report.ok and outcome.report.passed == outcome.report.total
    diff = outcome.diff(case.bundle)
    assert diff.count("\n+") - diff.count("\n+++") <= 3  # a micro-fix, not a rewrite


def test_microfix_works_without_coverage_on_the_reference_runner() -> None:
    bundle = Bundle(
        {"calc.py": "def add(a, b):\n    return a - b\n\n\ndef neg(a):\n    return -a\n",
         "test_calc.py": "from calc import add, neg\n\n\ndef test_add():\n    assert add(2, 3) == 5"
                         "\n\n\ndef test_neg():\n    assert neg(2) == -2\n"},
        ("test_calc.py",), "calc.py",
    )
    settings = RepairSettings(strategies=("heuristic_microfix",), bundle_timeout_seconds=60.0)
    outcome = Engine(settings, SubprocessRunner()).repair(bundle)
    assert outcome.repaired, outcome.reason
    assert outcome.details["localization"] == "static"
    assert outcome.details["edits"] == [
        {"file": "calc.py", "line": 2, "edit": "operator - -> +", "cost": 1, "kind": "operator"}
    ]
    assert outcome.details["passed_at"] == 1


def test_microfix_gives_up_within_budget_on_a_bundle_it_cannot_fix(runner: Runner) -> None:
    bundle = Bundle(
        {"m.py": "def f(s):\n    return s\n",
         "test_m.py": "from m import f\n\ndef test_f():\n    assert f('ab') == 'a = b, c'\n"},
        ("test_m.py",), "m.py",
    )
    settings = RepairSettings(strategies=("heuristic_microfix",), bundle_timeout_seconds=10.0)
    outcome = Engine(settings, runner).repair(bundle)
    assert not outcome.repaired
    assert outcome.files is None


def test_every_rendered_candidate_of_sampled_corpus_files_is_valid_python() -> None:
    checked = 0
    for name in ("grid_bfs", "dijkstra", "rect", "csv_split", "queue_two_stacks"):
        path = DEFAULT_ROOT / name
        if not path.is_dir():
            continue
        for rel, text in load_case(path).bundle.sources.items():
            if not rel.endswith(".py"):
                continue
            model = FileModel(rel, text)
            for edit in generate(model):
                out = render(model, [edit])
                if out is not None:
                    ast.parse(out)
                    checked += 1
    assert checked > 300


def test_a_bug_needing_two_edits_is_fixed_by_a_pair(runner: Runner) -> None:
    bundle = Bundle(
        {"span.py": "def inside(x, lo, hi):\n    return lo < x and x < hi\n",
         "test_span.py": (
             "from span import inside\n\n\n"
             "def test_low_end():\n    assert inside(1, 1, 3)\n\n\n"
             "def test_high_end():\n    assert inside(3, 1, 3)\n\n\n"
             "def test_middle():\n    assert inside(2, 1, 3)\n\n\n"
             "def test_outside():\n    assert not inside(0, 1, 3) and not inside(4, 1, 3)\n"
         )},
        ("test_span.py",), "span.py",
    )
    settings = RepairSettings(strategies=("heuristic_microfix",), bundle_timeout_seconds=60.0)
    outcome = Engine(settings, runner).repair(bundle)
    assert outcome.repaired, outcome.reason
    assert len(outcome.details["edits"]) == 2
    assert outcome.files is not None
    assert outcome.files["span.py"] == "def inside(x, lo, hi):\n    return lo <= x and x <= hi\n"


def test_judge_honours_a_strategy_timeout_below_the_test_timeout(runner: Runner) -> None:
    bundle = Bundle(
        {"spin.py": "def spin():\n    while True:\n        pass\n",
         "test_spin.py": "from spin import spin\n\n\ndef test_spin():\n    spin()\n"},
        ("test_spin.py",), "spin.py",
    )
    ctx = context(bundle, TestReport(timed_out=True), test_timeout=60.0, runner=runner)
    report = ctx.judge({}, timeout=1.0)
    assert report.timed_out and not ctx.accepts(report)
    assert report.duration_s < 30.0  # far below the 60 s test timeout
    assert ctx.budget.used == 1


def test_a_passing_run_is_accepted_when_the_first_run_could_not_count_the_tests() -> None:
    bundle = Bundle({"m.py": "", "test_m.py": ""}, ("test_m.py",), "m.py")
    ctx = context(bundle, TestReport(timed_out=True))
    assert ctx.expected_tests == 0
    assert ctx.accepts(TestReport(passed=3, exit_code=0))
    assert not ctx.accepts(TestReport(passed=3, failed=1, exit_code=1))
    counted = context(bundle, TestReport(passed=2, failed=1, exit_code=1))
    assert not counted.accepts(TestReport(passed=2, exit_code=0))  # a test went missing
    assert counted.accepts(TestReport(passed=3, exit_code=0))


# -- two-place fixes: the pair pool -----------------------------------------------------


def test_the_pair_pool_gives_each_expression_of_a_line_a_place_before_a_second_edit() -> None:
    model = FileModel("m.py", "def f(a, b, c, d):\n    return (a + b) * (c - d) / 100\n")
    edits = sorted((e for e in generate(model) if e.pairable),
                   key=lambda e: (e.cost, e.seq))
    places = {(e.spans[0][0], e.spans[0][1]) for e in edits}
    pool = _pair_pool(edits)
    assert len(pool) == min(PAIR_PER_LINE, len(edits))
    first_round = pool[:min(len(places), PAIR_PER_LINE)]
    assert len({(e.spans[0][0], e.spans[0][1]) for e in first_round}) == len(first_round)


def test_lines_reached_by_different_failing_tests_are_complementary_for_a_pair() -> None:
    coverage = {"t::one": {"m.py": [2, 3]}, "t::two": {"m.py": [2, 5]},
                "t::ok": {"m.py": [2]}}
    split = _split_lines({"t::one": False, "t::two": False, "t::ok": True}, coverage)
    assert split == {("m.py", 3): {"t::one"}, ("m.py", 5): {"t::two"}}
    model = FileModel("m.py", "def f(a):\n    x = a\n    y = a + 1\n    z = 2\n    return y - 1\n")
    at = {e.anchor: e for e in generate(model) if e.pairable}
    assert _complementary(split, at[3], at[5])
    assert not _complementary(split, at[3], at[3])
    assert not _complementary(split, at[2], at[5])  # line 2: every failing test reaches it


def test_a_name_bound_in_the_same_statement_is_the_cheapest_replacement() -> None:
    model = FileModel("m.py", "def f(xs, k):\n    lo, hi = min(xs), max(xs)\n"
                              "    n = len(xs)\n    return hi - k\n")
    costs = {e.label: e.cost for e in generate(model) if e.line == 4}
    assert costs["name hi -> lo"] == 1
    assert costs["name hi -> n"] == 2
