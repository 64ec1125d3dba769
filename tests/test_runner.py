"""The warm runner reports what pytest saw: counts, node ids, output, coverage.

Real servers (under bwrap when it can run), real children, real files under tmp_path.
Hostile candidates live in test_sandbox.py.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from repairlab.repair.report import TestReport
from repairlab.repair.runner import SubprocessRunner, make_runner, report_from_data
from repairlab.repair.warm_runner import WarmRunner

MIXED = {
    "calc.py": (
        "def add(a, b):\n"          # 1
        "    if a > 100:\n"          # 2
        "        return 0\n"         # 3
        "    return a + b\n"         # 4
        "\n"                         # 5
        "\n"                         # 6
        "def neg(a):\n"              # 7
        "    return -a\n"            # 8
    ),
    "test_calc.py": (
        "import pytest\n"
        "import calc\n"
        "\n"
        "\n"
        "def test_add():\n"
        "    assert calc.add(1, 2) == 3\n"
        "\n"
        "\n"
        "@pytest.mark.parametrize('x', [1, 200])\n"
        "def test_identity(x):\n"
        "    assert calc.add(x, 0) == x\n"
        "\n"
        "\n"
        "@pytest.fixture\n"
        "def broken():\n"
        "    raise RuntimeError('fixture setup fails')\n"
        "\n"
        "\n"
        "def test_uses_broken(broken):\n"
        "    assert calc.neg(1) == -1\n"
    ),
}
PASSING = {
    "calc.py": "def add(a, b):\n    return a + b\n",
    "test_calc.py": "import calc\n\n\ndef test_add():\n    assert calc.add(2, 3) == 5\n",
}


@pytest.fixture(scope="module")
def runner() -> Iterator[WarmRunner]:
    """One warm server for the module, as a worker would hold it."""
    with WarmRunner() as r:
        r.start()
        yield r


@pytest.mark.timeout(30)
def test_counts_and_node_ids_match_what_pytest_saw(runner: WarmRunner) -> None:
    report = runner.run(MIXED, ["test_calc.py"], timeout=20)
    assert (report.passed, report.failed, report.errors) == (2, 1, 1)
    assert report.outcomes == {
        "test_calc.py::test_add": True,
        "test_calc.py::test_identity[1]": True,
        "test_calc.py::test_identity[200]": False,
        "test_calc.py::test_uses_broken": False,
    }
    assert report.exit_code == 1
    assert not report.ok and not report.timed_out and not report.crashed
    assert "fixture setup fails" in report.output
    assert report.coverage is None


@pytest.mark.timeout(30)
def test_a_passing_bundle_is_ok(runner: WarmRunner) -> None:
    report = runner.run(PASSING, ["test_calc.py"], timeout=20)
    assert report.ok, report.output
    assert report.outcomes == {"test_calc.py::test_add": True}


@pytest.mark.timeout(30)
def test_skipped_and_xfailed_tests_neither_pass_nor_fail(runner: WarmRunner) -> None:
    files = {"test_s.py": (
        "import pytest\n\n\n"
        "def test_ok():\n    pass\n\n\n"
        "def test_skips_inside():\n    pytest.skip('not here')\n\n\n"
        "@pytest.mark.skip(reason='never')\ndef test_skipped():\n    pass\n\n\n"
        "@pytest.mark.xfail(reason='known')\ndef test_xfails():\n    assert False\n"
    )}
    report = runner.run(files, ["test_s.py"], timeout=20)
    assert report.ok, report.output
    assert report.outcomes == {"test_s.py::test_ok": True}


@pytest.mark.timeout(30)
def test_a_bundles_own_ini_and_conftest_are_honoured(runner: WarmRunner) -> None:
    files = {
        "pytest.ini": "[pytest]\npython_functions = check_*\nmarkers =\n    slow: slow\n",
        "conftest.py": "import pytest\n\n\n@pytest.fixture\ndef answer():\n    return 42\n",
        "test_ini.py": (
            "import pytest\n\n\n"
            "@pytest.mark.slow\ndef check_answer(answer):\n    assert answer == 42\n\n\n"
            "def test_not_collected():\n    assert False\n"
        ),
    }
    report = runner.run(files, ["test_ini.py"], timeout=20)
    assert report.ok, report.output
    assert report.outcomes == {"test_ini.py::check_answer": True}


@pytest.mark.timeout(30)
def test_pytests_builtin_fixtures_all_work_in_a_warm_child(runner: WarmRunner) -> None:
    # The warm server prebuilds pytest's config and skips scanning fixtureless
    # plugins: every builtin fixture must still be found.
    # (capfd is capsys's twin, and cache is off as in SubprocessRunner.)
    usable = ["tmp_path", "tmpdir", "tmp_path_factory", "monkeypatch", "capsys", "caplog",
              "recwarn", "request", "pytestconfig", "record_property", "doctest_namespace"]
    files = {"test_fx.py": (
        "import logging\nimport warnings\n\n\n"
        f"def test_fixtures({', '.join(usable)}):\n"
        "    tmp_path.joinpath('f').write_text('x')\n"
        "    assert tmpdir.join('g').write('y') is None or True\n"
        "    monkeypatch.setenv('X', '1')\n"
        "    print('out')\n"
        "    assert capsys.readouterr().out == 'out\\n'\n"
        "    logging.getLogger('t').warning('w')\n"
        "    assert 'w' in caplog.text\n"
        "    warnings.warn('r', UserWarning)\n"
        "    assert len(recwarn) == 1\n"
        "    assert request.node.name == 'test_fixtures'\n"
        "    assert pytestconfig.rootpath.name == 'work'\n"
    )}
    report = runner.run(files, ["test_fx.py"], timeout=20)
    assert report.ok, report.output


@pytest.mark.timeout(30)
def test_a_module_that_fails_to_import_is_an_error_not_zero_tests(runner: WarmRunner) -> None:
    files = {"calc.py": "def add(a, b)\n    return a + b\n",
             "test_calc.py": PASSING["test_calc.py"]}
    report = runner.run(files, ["test_calc.py"], timeout=20)
    assert report.errors == 1 and report.passed == 0
    assert not report.ok and not report.crashed
    assert "SyntaxError" in report.output


@pytest.mark.timeout(30)
def test_coverage_gives_each_tests_lines_of_the_sources_only(runner: WarmRunner) -> None:
    files = dict(MIXED)
    files["pkg/__init__.py"] = ""
    files["pkg/util.py"] = "def twice(x):\n    y = x * 2\n    return y\n"
    files["tests/test_util.py"] = (
        "from pkg.util import twice\n\n\ndef test_twice():\n    assert twice(2) == 4\n"
    )
    report = runner.run(files, ["test_calc.py", "tests/test_util.py"], timeout=20, coverage=True)
    assert report.coverage == {
        "test_calc.py::test_add": {"calc.py": [2, 4]},
        "test_calc.py::test_identity[1]": {"calc.py": [2, 4]},
        "test_calc.py::test_identity[200]": {"calc.py": [2, 3]},
        # Setup failed before the body ran: it exists, and covered nothing.
        "test_calc.py::test_uses_broken": {},
        "tests/test_util.py::test_twice": {"pkg/util.py": [2, 3]},
    }
    assert report.passed == 3 and report.failed == 1 and report.errors == 1


@pytest.mark.timeout(30)
def test_a_module_of_one_candidate_never_leaks_into_the_next(runner: WarmRunner) -> None:
    first = {"calc.py": "VALUE = 1\n",
             "test_calc.py": "import calc\n\n\ndef test_v():\n    assert calc.VALUE == 1\n"}
    second = {"calc.py": "VALUE = 2\n",
              "test_calc.py": "import calc\n\n\ndef test_v():\n    assert calc.VALUE == 2\n"}
    for files in (first, second, first):
        report = runner.run(files, ["test_calc.py"], timeout=20)
        assert report.ok, report.output


@pytest.mark.timeout(30)
def test_repairlabs_own_modules_are_not_importable_by_a_bundle(runner: WarmRunner) -> None:
    files = {"test_iso.py": (
        "import importlib.util\n\n\n"
        "def test_nothing_of_repairlab_is_visible():\n"
        "    for name in ('repairlab', 'repair', 'errors', 'faults', 'supervision', 'run'):\n"
        "        assert importlib.util.find_spec(name) is None, name\n\n\n"
        "def test_site_packages_and_the_stdlib_are():\n"
        "    import fractions\n"
        "    import msgspec\n"
        "    import pluggy\n"
        "    assert fractions and msgspec and pluggy\n"
    )}
    report = runner.run(files, ["test_iso.py"], timeout=20)
    assert report.ok, report.output


@pytest.mark.timeout(30)
def test_the_scratch_dir_holds_exactly_the_candidates_files(runner: WarmRunner) -> None:
    files = {
        "a/b.py": "X = 1\n",
        "test_tree.py": (
            "import os\n\n\n"
            "def test_tree():\n"
            "    found = sorted(os.path.relpath(os.path.join(d, f)) for d, _, fs in os.walk('.')\n"
            "                   for f in fs if '__pycache__' not in d)\n"
            "    assert found == ['a/b.py', 'test_tree.py']\n"
            "    assert not any(k.startswith('REPAIRLAB') for k in os.environ)\n"
        ),
    }
    report = runner.run(files, ["test_tree.py"], timeout=20)
    assert report.ok, report.output


@pytest.mark.timeout(30)
def test_output_keeps_only_a_bounded_tail(runner: WarmRunner) -> None:
    files = {"test_loud.py": (
        "import sys\n\n\n"
        "def test_loud():\n"
        "    for _ in range(4000):\n"
        "        sys.__stdout__.write('x' * 999 + '\\n')\n"
        "    sys.__stdout__.flush()\n"
        "    assert False, 'END-MARK'\n"
    )}
    report = runner.run(files, ["test_loud.py"], timeout=20)
    assert report.failed == 1
    assert len(report.output) <= 64 * 1024
    assert "END-MARK" in report.output


@pytest.mark.timeout(60)
def test_the_reference_runner_and_the_warm_runner_agree(runner: WarmRunner) -> None:
    warm = runner.run(MIXED, ["test_calc.py"], timeout=20)
    fresh = SubprocessRunner().run(MIXED, ["test_calc.py"], timeout=40)
    assert (warm.passed, warm.failed, warm.errors, warm.exit_code) == (
        fresh.passed, fresh.failed, fresh.errors, fresh.exit_code)
    assert warm.outcomes == fresh.outcomes


@pytest.mark.timeout(40)
def test_a_dead_server_is_restarted_transparently(runner: WarmRunner) -> None:
    server = runner._server
    assert server is not None
    os.kill(server.proc.pid, signal.SIGKILL)  # the server process we started
    server.proc.wait(timeout=10)
    report = runner.run(PASSING, ["test_calc.py"], timeout=20)
    assert report.ok, report.output
    assert runner._server is not None and runner._server.proc.pid != server.proc.pid


@pytest.mark.timeout(40)
def test_one_runner_shared_by_two_threads_runs_one_candidate_at_a_time(
    runner: WarmRunner,
) -> None:
    reports: list[TestReport] = []

    def work() -> None:
        for _ in range(3):
            reports.append(runner.run(PASSING, ["test_calc.py"], timeout=20))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(reports) == 6 and all(r.ok for r in reports)


@pytest.mark.timeout(40)
def test_make_runner_gives_a_started_warm_runner() -> None:
    made = make_runner()
    try:
        assert isinstance(made, WarmRunner)
        start = time.monotonic()
        assert made.run(PASSING, ["test_calc.py"], timeout=20).ok
        assert time.monotonic() - start < 20
    finally:
        made.close()


@pytest.mark.timeout(60)
def test_a_server_started_under_a_tight_umask_still_runs_candidates() -> None:
    # The umask is the whole process's: another thread (making a state root, say)
    # may hold it at 077 at the moment a worker starts its server. The candidates'
    # run dirs must stay enterable by their uids all the same.
    old = os.umask(0o077)
    try:
        made = WarmRunner()
        made.start()
    finally:
        os.umask(old)
    try:
        for _ in range(2):
            report = made.run(PASSING, ["test_calc.py"], timeout=20)
            assert report.ok, report.output[-2000:]
    finally:
        made.close()


@pytest.mark.timeout(60)
def test_bench_runs_quickly_and_prints_both_medians(capsys: pytest.CaptureFixture[str]) -> None:
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "bench" / "runner.py"
    spec = importlib.util.spec_from_file_location("bench_runner", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "warm median" in out and "fresh median" in out and "ratio" in out


# -- the pieces, without a server ------------------------------------------------------


def test_a_record_that_is_not_the_plugins_reads_as_a_crash() -> None:
    records: list[object] = [None, [], {"outcomes": 3}, {"errors": []}]
    for data in records:
        report = report_from_data(data, exit_code=0, output="", duration=0.1, timed_out=False)
        assert report.crashed and not report.ok
    timed = report_from_data(None, exit_code=-9, output="", duration=2.0, timed_out=True)
    assert timed.timed_out and not timed.crashed


def test_errors_count_apart_from_failures_and_bad_coverage_is_dropped() -> None:
    data = {"outcomes": {"t.py::a": True, "t.py::b": False, "t.py::c": False},
            "errors": ["t.py::c", "broken.py"]}
    report = report_from_data(data, exit_code=1, output="", duration=0.1, timed_out=False,
                              coverage={"t.py::a": {"m.py": ["x"]}})
    assert (report.passed, report.failed, report.errors) == (1, 1, 2)
    assert report.coverage is None
    good = report_from_data(data, exit_code=1, output="", duration=0.1, timed_out=False,
                            coverage={"t.py::a": {"m.py": [4, 2]}})
    assert good.coverage == {"t.py::a": {"m.py": [2, 4]}}


def test_test_files_are_told_from_sources() -> None:
    from repairlab.repair.candidate import is_test_path

    tests = ["checks/spec.py", "test_a.py::test_x"]
    for path in ("test_a.py", "checks/spec.py", "pkg/test_b.py", "pkg/b_test.py",
                 "conftest.py", "pkg/conftest.py"):
        assert is_test_path(path, tests), path
    for path in ("a.py", "pkg/testing.py", "pkg/contest.py"):
        assert not is_test_path(path, tests), path


def test_pytest_never_looks_above_the_scratch_dir(tmp_path: Path) -> None:
    from repairlab.repair.candidate import pytest_args

    args = pytest_args(tmp_path, {"a.py": ""})
    assert args[args.index("--confcutdir") + 1] == str(tmp_path)
    assert args[args.index("--rootdir") + 1] == str(tmp_path)
    assert args[args.index("-c") + 1] == os.devnull
    own = pytest_args(tmp_path, {"pytest.ini": "[pytest]\n"})
    assert "-c" not in own and "--confcutdir" in own


def test_the_childs_import_path_leaves_repairlab_out() -> None:
    import sys

    from repairlab.repair.candidate import clean_import_path

    repo = str(Path(__file__).resolve().parent.parent)
    path, meta, hooks = clean_import_path(repo)
    assert repo not in path and not any(p.startswith(repo + "/repair") for p in path)
    assert any("site-packages" in p for p in path)
    assert all("__editable__" not in getattr(f, "__module__", "") for f in meta)
    assert len(meta) <= len(sys.meta_path) and len(hooks) <= len(sys.path_hooks)
