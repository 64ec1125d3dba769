"""The buggy-tool corpus: its shape, its loader, and which strategy fixes what."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from repair.corpus import DEFAULT_ROOT, Case, CaseInvalid, load_case, load_corpus
from repair.engine import STRATEGY_ORDER, Engine, RepairSettings
from repair.runner import Runner, make_runner

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def corpus() -> list[Case]:
    """Every case of the repository's corpus."""
    return load_corpus(DEFAULT_ROOT)


def test_corpus_holds_at_least_forty_microfix_cases_with_varied_bugs(corpus: list[Case]) -> None:
    microfix = [c for c in corpus if c.expect == "heuristic_microfix"]
    assert len(microfix) >= 40
    bugs = {c.meta["bug"] for c in microfix}
    assert len(bugs) == len(microfix)  # one bug, described in its own words, per case


def test_every_case_names_a_known_strategy_or_none(corpus: list[Case]) -> None:
    for case in corpus:
        assert case.expect is None or case.expect in STRATEGY_ORDER, case.name
        assert isinstance(case.meta.get("bug"), str) and case.meta["bug"], case.name


def test_every_case_has_its_entrypoint_and_three_to_eight_tests(corpus: list[Case]) -> None:
    for case in [c for c in corpus if c.expect == "heuristic_microfix"]:
        bundle = case.bundle
        assert bundle.entrypoint in bundle.sources, case.name
        count = sum(text.count("\ndef test_") for p, text in bundle.files.items()
                    if p in bundle.tests)
        assert 3 <= count <= 8, (case.name, count)


def test_some_cases_span_several_source_files_and_some_loop_forever(corpus: list[Case]) -> None:
    microfix = [c for c in corpus if c.expect == "heuristic_microfix"]
    multi = [c for c in microfix
             if sum(1 for p in c.bundle.sources if p.endswith(".py") and p.rsplit("/", 1)[-1]
                    != "__init__.py") >= 2]
    assert len(multi) >= 3
    hanging = [c for c in microfix if c.test_timeout is not None]
    assert len(hanging) >= 3
    assert all(c.test_timeout is not None and c.test_timeout <= 5 for c in hanging)


def test_load_case_reads_files_tests_and_seeds(tmp_path: Path) -> None:
    case_dir = tmp_path / "demo"
    (case_dir / "files" / "pkg").mkdir(parents=True)
    (case_dir / "files" / "pkg" / "m.py").write_text("X = 1\n")
    (case_dir / "files" / "test_m.py").write_text("def test_x():\n    pass\n")
    (case_dir / "seed" / "v1").mkdir(parents=True)
    (case_dir / "seed" / "v1" / "pkg" / "m.py").parent.mkdir()
    (case_dir / "seed" / "v1" / "pkg" / "m.py").write_text("X = 2\n")
    (case_dir / "case.json").write_text(json.dumps({
        "tool": "demo", "entrypoint": "pkg/m.py", "expect": "pattern_transplant",
        "bug": "x", "seed": ["seed/v1"], "test_timeout": 3,
    }))
    case = load_case(case_dir)
    assert case.name == "demo"
    assert case.bundle.tests == ("test_m.py",)
    assert case.bundle.sources == {"pkg/m.py": "X = 1\n"}
    assert case.test_timeout == 3.0
    assert [s.files["pkg/m.py"] for s in case.seeds] == ["X = 2\n"]
    assert load_corpus(tmp_path) == [case]


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ({"tool": "t"}, "entrypoint"),
        ({"entrypoint": "missing.py"}, "not among its files"),
        ({"entrypoint": "m.py", "tests": ["test_nope.py"]}, "not among its files"),
    ],
)
def test_load_case_rejects_a_malformed_case(tmp_path: Path, meta: dict[str, object],
                                            message: str) -> None:
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "m.py").write_text("")
    (tmp_path / "case.json").write_text(json.dumps(meta))
    with pytest.raises(CaseInvalid, match=message):
        load_case(tmp_path)


def test_the_repository_suite_does_not_collect_the_corpus_tests() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-o", "addopts=", "-p",
         "no:hypothesispytest", "-p", "no:cacheprovider", "tests"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    collected = [ln for ln in proc.stdout.splitlines() if "::" in ln]
    assert collected, proc.stdout[-2000:]
    assert not [ln for ln in collected if ln.startswith("tests/corpus/")]
    assert any(ln.startswith("tests/test_corpus.py::") for ln in collected)


@pytest.fixture(scope="module")
def runner() -> Iterator[Runner]:
    """The production runner, shared by the module's end-to-end tests."""
    made = make_runner()
    yield made
    made.close()


SAMPLE = ["clamp", "adapter_keyword_wrap", "transplant_dedupe_order",
          "hopeless_duration_not_implemented"]


@pytest.mark.parametrize("name", SAMPLE)
def test_the_expected_strategy_fixes_each_sampled_bundle(
    name: str, runner: Runner, tmp_path: Path
) -> None:
    from repair.patterns import PatternLibrary

    case = load_case(DEFAULT_ROOT / name)
    library = PatternLibrary(tmp_path / "patterns")
    try:
        for seed in case.seeds:
            library.learn(seed, source_sha256=seed.sha256)
        # A hopeless bundle spends the whole budget: keep it short here (the bench runs
        # every case with the real one).
        budget = 60.0 if case.expect else 6.0
        settings = RepairSettings(bundle_timeout_seconds=budget,
                                  test_timeout_seconds=case.test_timeout or 30.0)
        outcome = Engine(settings, runner, patterns=library).repair(case.bundle)
    finally:
        library.close()
    assert (outcome.strategy if outcome.repaired else None) == case.expect, outcome.reason
    if outcome.files is not None:
        for test in case.bundle.tests:
            assert outcome.files[test] == case.bundle.files[test]
        assert set(outcome.files) == set(case.bundle.files)  # no file added or lost


def test_the_bench_runs_in_quick_mode(capsys: pytest.CaptureFixture[str]) -> None:
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import repair_corpus
    finally:
        sys.path.remove(str(REPO / "bench"))
    assert repair_corpus.main(["--quick", "--cost-rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert f"fixed 3/{len(repair_corpus.QUICK_CASES)} bundles" in out
    assert "candidates/s" in out and "cheaper" in out
    assert "p95" in out
