"""The runner's fast path: a bundle's collected session, forked per candidate.

Real servers (under bwrap when it can run), real session processes, real children.
Each check compares the fast path with what a complete ordinary run says, or with
what must not survive from one candidate to the next. Hostile candidates run through
the fast path too in test_sandbox.py (its "fast" runner).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest

from repairlab.repair.bundle import Bundle
from repairlab.repair.report import TestReport
from repairlab.repair.strategies.base import Budget, Context
from repairlab.repair.warm_runner import TEST_LIMIT_FLOOR, WarmRunner, per_test_limit

pytestmark = pytest.mark.timeout(90)

CALC = {
    "calc/__init__.py": "from .core import add\n",
    "calc/core.py": "def add(a, b):\n    return a + b\n",
    "calc/twice.py": "from calc.core import add\n\n\ndef twice(a):\n    return add(a, a)\n",
    "test_calc.py": (
        "import pytest\n"
        "from calc import add\n"
        "from calc.twice import twice\n\n\n"
        "@pytest.mark.parametrize('a,b,c', [(1, 2, 3), (0, 0, 0), (-1, 1, 0)])\n"
        "def test_add(a, b, c):\n"
        "    assert add(a, b) == c\n\n\n"
        "def test_twice():\n"
        "    assert twice(4) == 8\n\n\n"
        "def test_module_attribute():\n"
        "    import calc.core\n"
        "    assert calc.core.add(2, 2) == 4\n"
    ),
}
TESTS = ["test_calc.py"]


def with_core(body: str) -> dict[str, str]:
    """CALC with calc/core.py replaced."""
    return {**CALC, "calc/core.py": body}


@pytest.fixture(scope="module")
def runner() -> Iterator[WarmRunner]:
    with WarmRunner() as r:
        r.start()
        yield r


@pytest.fixture
def session(runner: WarmRunner) -> Iterator[WarmRunner]:
    """`runner` with a session open on CALC."""
    assert runner.open_session(CALC, TESTS, timeout=30)
    yield runner
    runner.close_session()


def screened(runner: WarmRunner, files: Mapping[str, str], tests: Sequence[str] = TESTS,
             **kwargs: Any) -> TestReport:
    report = runner.screen(files, tests, timeout=30, **kwargs)
    assert report is not None, "the fast path refused a candidate it can judge"
    return report


def test_a_complete_screen_of_the_bundle_as_handed_in_matches_a_full_run(
    runner: WarmRunner,
) -> None:
    broken = with_core("def add(a, b):\n    return a - b\n")
    assert runner.open_session(broken, TESTS, timeout=30)
    try:
        fast = screened(runner, broken, stop=False)
    finally:
        runner.close_session()
    full = runner.run(broken, TESTS, timeout=30)
    assert fast.outcomes == full.outcomes
    assert (fast.passed, fast.failed, fast.errors, fast.exit_code) == \
        (full.passed, full.failed, full.errors, full.exit_code) == (1, 4, 0, 1)
    assert "assert -1 == 3" in fast.output
    assert set(full.durations) == set(full.outcomes)


def test_the_fast_path_gives_the_same_verdict_as_a_full_run(session: WarmRunner) -> None:
    candidates = {
        "passes": with_core("def add(a, b):\n    return b + a\n"),
        "fails some": with_core("def add(a, b):\n    return abs(a) + b\n"),
        "fails all": with_core("def add(a, b):\n    return None\n"),
        "raises in a test": with_core("def add(a, b):\n    return a + b if a else {}[b]\n"),
    }
    for name, files in candidates.items():
        fast = screened(session, files, stop=False)
        full = session.run(files, TESTS, timeout=30)
        assert fast.outcomes == full.outcomes, name
        assert (fast.ok, fast.passed, fast.failed, fast.errors) == \
            (full.ok, full.passed, full.failed, full.errors), name
    # A module that no longer imports would be a collection error, which only a
    # fresh session reports as pytest does: the fast path leaves it to a full run.
    assert session.screen(with_core("raise ImportError('no')\n"), TESTS, timeout=30) is None


def test_screening_runs_the_failing_tests_first_and_stops_at_the_first_failure(
    session: WarmRunner,
) -> None:
    files = with_core("def add(a, b):\n    return a + b + (a == 4)\n")
    report = screened(session, files, first=["test_calc.py::test_twice"], stop=True)
    assert not report.ok
    assert report.outcomes == {"test_calc.py::test_twice": False}


def test_a_candidates_side_effects_never_reach_the_next_candidate(session: WarmRunner) -> None:
    # Module globals of its own and of another bundle module, the standard library
    # (monkeypatched at import and in a test), sys.modules, and a file in its cwd.
    hostile = with_core(
        "import string\nimport sys\n\n"
        "import calc\n"
        "calc.LEAKED = True\n"
        "string.capwords = lambda *a, **k: 'patched'\n"
        "sys.modules['leaked_module'] = string\n"
        "STATE = []\n\n\n"
        "def add(a, b):\n"
        "    STATE.append(1)\n"
        "    open('leak.txt', 'w').write('x')\n"
        "    return a + b\n"
    )
    probe = {**CALC, "test_calc.py": CALC["test_calc.py"]}
    assert screened(session, hostile, stop=False).ok
    clean = with_core(
        "import os\nimport string\nimport sys\n\n"
        "import calc\n\n\n"
        "def add(a, b):\n"
        "    assert not hasattr(calc, 'LEAKED')\n"
        "    assert string.capwords('a b') == 'A B'\n"
        "    assert 'leaked_module' not in sys.modules\n"
        "    assert not os.path.exists('leak.txt')\n"
        "    assert getattr(sys.modules['calc.core'], 'STATE', None) is None\n"
        "    return a + b\n"
    )
    report = screened(session, clean, stop=False)
    assert report.ok and report.passed == 5, report.output
    assert screened(session, probe, stop=False).ok


def test_a_patched_module_is_never_reused_stale(session: WarmRunner) -> None:
    # `from calc.core import add` in calc/__init__.py, calc/twice.py and the test
    # module all bind the function by value at collection: each must see the patch.
    wrong = with_core("def add(a, b):\n    return a * b\n")
    right = with_core("def add(a, b):\n    total = a + b\n    return total\n")
    for files, ok in ((wrong, False), (right, True), (wrong, False), (CALC, True)):
        report = screened(session, files, stop=False)
        full = session.run(files, TESTS, timeout=30)
        assert report.outcomes == full.outcomes
        assert report.ok is ok, report.output


def test_a_module_first_imported_during_a_test_comes_from_the_candidates_files(
    runner: WarmRunner,
) -> None:
    files = {"lazy.py": "VALUE = 1\n",
             "test_lazy.py": "def test_lazy():\n    import lazy\n    assert lazy.VALUE == 1\n"}
    assert runner.open_session(files, ["test_lazy.py"], timeout=30)
    try:
        report = screened(runner, {**files, "lazy.py": "VALUE = 2\n"}, ["test_lazy.py"],
                          stop=False)
        assert not report.ok
        assert screened(runner, files, ["test_lazy.py"], stop=False).ok
    finally:
        runner.close_session()


def test_an_endless_loop_is_stopped_within_the_scaled_per_test_limit(
    session: WarmRunner,
) -> None:
    looping = with_core("def add(a, b):\n    while True:\n        pass\n")
    limit = per_test_limit(session.run(CALC, TESTS, timeout=30).durations)
    assert TEST_LIMIT_FLOOR <= limit < 1.0
    started = time.monotonic()
    report = screened(session, looping, first=["test_calc.py::test_twice"], stop=True,
                      test_limit=limit)
    took = time.monotonic() - started
    assert report.timed_out and not report.ok
    assert "ran over its limit" in report.output
    # The per-test limit is CPU time, ten times the slowest test, at least
    # TEST_LIMIT_FLOOR: far below the 30 s the run was allowed (a loaded machine
    # stretches the wall time only).
    assert took < 10 * limit + 5, took


def test_a_candidate_changing_a_test_file_or_removing_a_module_is_refused(
    session: WarmRunner,
) -> None:
    changed_test = {**CALC, "test_calc.py": CALC["test_calc.py"] + "\n\ndef test_more():\n"
                                                                 "    pass\n"}
    assert session.screen(changed_test, TESTS, timeout=30) is None
    removed = {k: v for k, v in CALC.items() if k != "calc/twice.py"}
    assert session.screen(removed, TESTS, timeout=30) is None
    assert session.screen(CALC, ["test_calc.py::test_twice"], timeout=30) is None
    # The session is still good for the next candidate.
    assert screened(session, CALC, stop=False).ok


def test_parametrize_values_computed_from_changed_code_refuse_the_candidate(
    runner: WarmRunner,
) -> None:
    files = {"table.py": "ROWS = [(1, 2)]\n",
             "test_table.py": ("import pytest\nfrom table import ROWS\n\n\n"
                               "@pytest.mark.parametrize('a,b', ROWS)\n"
                               "def test_row(a, b):\n    assert a + 1 == b\n")}
    assert runner.open_session(files, ["test_table.py"], timeout=30)
    try:
        changed = {**files, "table.py": "ROWS = [(1, 3)]\n"}
        assert runner.screen(changed, ["test_table.py"], timeout=30) is None
        # Same values, new text: nothing collection holds is stale.
        same = {**files, "table.py": "ROWS = [(1, 1 + 1)]\n"}
        assert screened(runner, same, ["test_table.py"], stop=False).ok
    finally:
        runner.close_session()


def test_a_session_that_failed_to_collect_reports_so_and_refuses_candidates(
    runner: WarmRunner,
) -> None:
    files = {"calc.py": "def add(a, b)\n    return a + b\n",
             "test_calc.py": ("from calc import add\n\n\n"
                              "def test_add():\n    assert add(1, 1) == 2\n")}
    assert runner.open_session(files, ["test_calc.py"], timeout=30)
    full = runner.run(files, ["test_calc.py"], timeout=30)
    try:
        first = screened(runner, files, ["test_calc.py"], stop=False)
        assert not first.ok and first.errors == full.errors == 1
        # A candidate could fix the import: the session cannot judge it.
        fixed = {**files, "calc.py": "def add(a, b):\n    return a + b\n"}
        assert runner.screen(fixed, ["test_calc.py"], timeout=30) is None
    finally:
        runner.close_session()


def test_a_session_process_gone_between_candidates_refuses_and_the_server_lives(
    runner: WarmRunner,
) -> None:
    # The bundle's own module code ends the session process a moment after
    # collection (a thread of it): the next candidate is refused, not failed, and
    # the server writing to the dead process's pipe lives on.
    files = {"m.py": ("import os\nimport threading\n\n"
                      "threading.Timer(0.3, os._exit, (0,)).start()\nV = 1\n"),
             "test_m.py": "import m\n\n\ndef test_v():\n    assert m.V == 1\n"}
    server = runner._server
    assert runner.open_session(files, ["test_m.py"], timeout=30)
    time.sleep(1.5)
    changed = {**files, "m.py": files["m.py"].replace("V = 1", "V = 2")}
    assert runner.screen(changed, ["test_m.py"], timeout=30) is None
    assert runner._server is server
    assert runner.run(CALC, TESTS, timeout=30).ok


# -- Context.judge: the engine's way into the fast path -----------------------------


class RecordingRunner:
    """A runner with a fast path that records which path judged each candidate."""

    def __init__(self, screen_says: bool | None) -> None:
        self.screen_says = screen_says
        self.calls: list[str] = []
        self.limits: list[float] = []

    def run(self, files: Mapping[str, str], tests: Sequence[str], *, timeout: float,
            coverage: bool = False) -> TestReport:
        self.calls.append("run")
        return TestReport(passed=1, exit_code=0, outcomes={"t::a": True})

    def open_session(self, files: Mapping[str, str], tests: Sequence[str], *,
                     timeout: float) -> bool:
        self.calls.append("open")
        return True

    def screen(self, files: Mapping[str, str], tests: Sequence[str], *, timeout: float,
               coverage: bool = False, first: Sequence[str] = (), stop: bool = True,
               test_limit: float = 0.0) -> TestReport | None:
        self.calls.append("screen")
        self.limits.append(test_limit)
        if self.screen_says is None:
            return None
        if self.screen_says:
            return TestReport(passed=1, exit_code=0, outcomes={"t::a": True})
        return TestReport(failed=1, exit_code=1, outcomes={"t::a": False})

    def close(self) -> None:
        pass


def context(runner: Any) -> Context:
    bundle = Bundle(files={"m.py": "def f():\n    return 1\n",
                           "test_m.py": "def test_a():\n    pass\n"},
                    tests=("test_m.py",), entrypoint="m.py")
    first = TestReport(failed=1, exit_code=1, outcomes={"t::a": False},
                       durations={"t::a": 0.02})
    return Context(bundle=bundle, first_run=first, runner=runner,
                   budget=Budget(time.monotonic() + 60, 100), test_timeout=5.0,
                   expected_tests=1)


def test_a_candidate_that_passes_screening_gets_a_complete_run_for_its_verdict() -> None:
    runner = RecordingRunner(screen_says=True)
    ctx = context(runner)
    assert ctx.accepts(ctx.judge({"m.py": "def f():\n    return 2\n"}))
    assert runner.calls == ["open", "screen", "run"]
    # Held to ten times the first run's slowest test.
    assert runner.limits == [pytest.approx(0.2)]


def test_a_candidate_rejected_by_screening_is_not_run_again() -> None:
    runner = RecordingRunner(screen_says=False)
    ctx = context(runner)
    assert not ctx.accepts(ctx.judge({"m.py": "def f():\n    return 2\n"}))
    ctx.judge({"m.py": "def f():\n    return 3\n"})
    assert runner.calls == ["open", "screen", "screen"]
    refused = RecordingRunner(screen_says=None)
    ctx = context(refused)
    ctx.judge({"m.py": "def f():\n    return 2\n"})
    assert refused.calls == ["open", "screen", "run"]


def test_when_the_first_run_timed_out_screens_are_limited_by_what_candidates_completed(
) -> None:
    class Timing(RecordingRunner):
        """Screens fail, each test completed in 30 ms."""

        opened_with: float = 0.0

        def open_session(self, files: Mapping[str, str], tests: Sequence[str], *,
                         timeout: float) -> bool:
            self.opened_with = timeout
            return super().open_session(files, tests, timeout=timeout)

        def screen(self, *args: Any, **kwargs: Any) -> TestReport | None:
            super().screen(*args, **kwargs)
            return TestReport(failed=1, exit_code=1, outcomes={"t::a": False},
                              durations={"t::a": 0.03})

    runner = Timing(screen_says=False)
    ctx = context(runner)
    ctx.first_run = TestReport(timed_out=True, duration_s=5.0)  # no outcomes, no durations
    ctx.tried.clear()
    for body in ("return 2", "return 3", "return 4"):
        ctx.judge({"m.py": f"def f():\n    {body}\n"})
    # The fast path opens all the same, its collection bounded; the first screen has
    # no per-test limit (nothing to scale it from), the next ones ten times the
    # slowest test a candidate completed.
    assert runner.calls == ["open", "screen", "screen", "screen"]
    assert runner.opened_with == pytest.approx(3.0)
    assert runner.limits == [0.0, pytest.approx(0.3), pytest.approx(0.3)]


def test_a_candidate_whose_ast_was_tried_already_is_not_run() -> None:
    runner = RecordingRunner(screen_says=False)
    ctx = context(runner)
    ctx.judge({"m.py": "def f():\n    return 2\n"})
    again = ctx.judge({"m.py": "def f():\n    # the same program\n    return (2)\n"})
    original = ctx.judge({"m.py": "def f():\n    return 1  # as handed in\n"})
    assert runner.calls == ["open", "screen"]
    assert not again.ok and original is ctx.first_run
    assert ctx.budget.used == 1 and ctx.skipped == 2


def test_the_engine_screens_candidates_and_rests_its_verdict_on_a_complete_run(
    runner: WarmRunner, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from repairlab.repair.engine import Engine, RepairSettings

    calls: list[str] = []

    def recording(name: str) -> Any:
        original = getattr(runner, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            calls.append(f"{name}:{getattr(result, 'ok', result)}")
            return result

        return call

    for name in ("run", "open_session", "screen", "close_session"):
        monkeypatch.setattr(runner, name, recording(name))
    broken = with_core("def add(a, b):\n    return a - b\n")
    bundle = Bundle(files=broken, tests=tuple(TESTS), entrypoint="calc/core.py")
    outcome = Engine(RepairSettings(strategies=("heuristic_microfix",)), runner).repair(bundle)
    assert outcome.repaired and outcome.report.ok and outcome.report.passed == 5
    assert outcome.files is not None and "a + b" in outcome.files["calc/core.py"]
    assert calls[0] == "run:False"  # the first run: plain
    assert calls[1] == "open_session:True"
    assert "screen:False" in calls  # candidates rejected by the fast path
    # The accepted candidate: screened, then its verdict from a complete run (the
    # search may judge a few more after it, looking for a more natural one).
    pairs = list(itertools.pairwise(calls))
    assert ("screen:True", "run:True") in pairs
    assert calls[-1] == "close_session:None"
    assert runner.screen(CALC, TESTS, timeout=30) is None  # closed


def test_a_bundle_whose_tests_loop_forever_is_repaired_on_the_fast_path(
    runner: WarmRunner, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from repairlab.repair.engine import Engine, RepairSettings

    limits: list[float] = []
    screen = runner.screen

    def recording(*args: Any, **kwargs: Any) -> TestReport | None:
        report = screen(*args, **kwargs)
        if not kwargs.get("coverage"):
            limits.append(kwargs.get("test_limit", 0.0))
        return report

    monkeypatch.setattr(runner, "screen", recording)
    files = {
        "count.py": ("def count_down(n):\n    steps = 0\n    while n > 0:\n"
                     "        steps += 1\n        n - 1\n    return steps\n"),
        "test_count.py": ("from count import count_down\n\n\n"
                          "def test_three():\n    assert count_down(3) == 3\n\n\n"
                          "def test_none():\n    assert count_down(0) == 0\n"),
    }
    bundle = Bundle(files=files, tests=("test_count.py",), entrypoint="count.py")
    settings = RepairSettings(strategies=("heuristic_microfix",), test_timeout_seconds=2.0)
    outcome = Engine(settings, runner).repair(bundle)
    assert outcome.first_run is not None and outcome.first_run.timed_out
    assert outcome.repaired and outcome.files is not None
    assert "n -= 1" in outcome.files["count.py"] or "n = n - 1" in outcome.files["count.py"]
    # Candidates were screened: the first with no per-test limit (nothing to scale it
    # from), and once one had run its tests to their end, the rest held to a limit
    # scaled from the slowest test seen (at least the floor), not only to the
    # candidate's whole timeout.
    assert len(limits) > 1 and limits[0] == 0.0
    assert all(limit >= TEST_LIMIT_FLOOR for limit in limits[1:])


# -- the lean screening child: tests run without pytest's per-phase hooks -----------

ODD = {
    "m.py": "def f(x):\n    return x + 1\n",
    "test_odd.py": (
        "import pytest\nimport m\n\n\n"
        "@pytest.fixture\ndef base():\n    return m.f(0)\n\n\n"
        "def test_plain():\n    assert m.f(1) == 2\n\n\n"
        "def test_fixture(base, tmp_path, monkeypatch):\n"
        "    monkeypatch.setenv('X', '1')\n    (tmp_path / 'a').write_text('x')\n"
        "    assert base == 1\n\n\n"
        "@pytest.mark.parametrize('x,y', [(1, 2), (2, 3)])\n"
        "def test_param(x, y):\n    assert m.f(x) == y\n\n\n"
        "@pytest.mark.skip(reason='never')\ndef test_skipped():\n    assert False\n\n\n"
        "@pytest.mark.skipif(True, reason='never')\ndef test_skipped_if():\n    assert False\n\n\n"
        "@pytest.mark.xfail(reason='known')\ndef test_xfail():\n    assert m.f(0) == 5\n\n\n"
        "def test_skips_itself():\n    pytest.skip('not here')\n\n\n"
        "def test_xfails_itself():\n    pytest.xfail('not yet')\n\n\n"
        "def test_capsys(capsys):\n    print(m.f(1))\n"
        "    assert capsys.readouterr().out == '2\\n'\n"
    ),
}


def test_lean_screening_never_fails_a_test_pytest_passes_or_skips(runner: WarmRunner) -> None:
    tests = ["test_odd.py"]
    full = runner.run(ODD, tests, timeout=30)
    assert full.ok, full.output
    assert runner.open_session(ODD, tests, timeout=30)
    try:
        fast = screened(runner, ODD, tests, stop=True, first=["test_odd.py::test_param[2-3]"])
    finally:
        runner.close_session()
    assert fast.ok, fast.output
    assert fast.outcomes == full.outcomes
    assert "test_odd.py::test_skipped" not in fast.outcomes


def test_lean_screening_fails_a_fixture_error_and_a_failing_call_as_pytest_does(
    runner: WarmRunner,
) -> None:
    tests = ["test_odd.py"]
    assert runner.open_session(ODD, tests, timeout=30)
    try:
        # f(0) raises: the fixture's set-up fails (an error); test_plain still passes.
        raising = {**ODD, "m.py": "def f(x):\n    if not x:\n        raise ValueError(x)\n"
                   "    return x + 1\n"}
        report = screened(runner, raising, tests, stop=True,
                          first=["test_odd.py::test_fixture"])
        assert not report.ok
        assert report.outcomes == {"test_odd.py::test_fixture": False}
        assert report.errors == 1
        wrong = {**ODD, "m.py": "def f(x):\n    return x + 2\n"}
        report = screened(runner, wrong, tests, stop=True)
        assert not report.ok and report.failed == 1 and report.errors == 0
        assert list(report.outcomes.values()) == [False]
    finally:
        runner.close_session()
