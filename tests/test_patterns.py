"""The pattern library and pattern_transplant, end to end with real files and processes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from repairlab.repair import Bundle, Engine, RepairSettings, Runner
from repairlab.repair.bundle import bundle_sha256
from repairlab.repair.corpus import load_case
from repairlab.repair.definitions import (
    definitions,
    imports_used,
    name_similarity,
    normalized_sha256,
    traceback_lines,
)
from repairlab.repair.patterns import PatternLibrary
from repairlab.repair.strategies.transplant import transplant

CORPUS = Path(__file__).parent / "corpus"
TRANSPLANT_CASES = sorted(p.name for p in CORPUS.glob("transplant_*"))
HOPELESS_CASES = sorted(
    p.name for p in CORPUS.glob("hopeless_*") if load_case(p).expect is None
)
ID_RE = re.compile(r"[A-Za-z0-9_.-]{1,128}:c[0-9]{4,}")




def _module(tool: str, body: str, test: str = "def test_x():\n    assert True\n") -> Bundle:
    files = {"mod.py": textwrap.dedent(body), "test_mod.py": test}
    return Bundle(files, ("test_mod.py",), "mod.py", tool)


# ---- the library -------------------------------------------------------------------


def test_learn_stores_each_definition_once_with_provenance(tmp_path: Path) -> None:
    lib = PatternLibrary(tmp_path / "patterns")
    bundle = _module("text_deduplicate", """
        import re

        def dedupe(lines):
            return list(dict.fromkeys(lines))

        class Box:
            def __init__(self, size, fill=0):
                self.size = size

        def words(text):
            return re.findall(r"\\w+", text)
    """)
    added = lib.learn(bundle, source_sha256=bundle.sha256, now=1000.0)
    assert [p.id for p in added] == [
        "text_deduplicate:c0001", "text_deduplicate:c0002", "text_deduplicate:c0003"]
    assert [p.name for p in added] == ["dedupe", "Box", "words"]
    box = added[1]
    assert (box.kind, box.params) == ("class", ("size", "fill"))
    assert box.signature == "self, size, fill=0"
    assert added[2].imports == ("import re",)
    assert all(p.source_sha256 == bundle.sha256 and p.learned_at.startswith("1970") for p in added)
    assert sorted(f.name for f in (tmp_path / "patterns").glob("*.json")) == [
        f"{p.id}.json" for p in added]
    # The same code again, reformatted and commented, adds nothing; a real change does.
    again = _module("text_deduplicate", """
        import re

        def dedupe(lines):   # keeps order
            return list(dict.fromkeys( lines ))
    """)
    assert lib.learn(again, source_sha256=again.sha256) == []
    # Content it holds is not looked for in the store again (the index answers).
    store = lib._store
    lib._store = lambda *args: pytest.fail("stored again")  # type: ignore[method-assign]
    assert lib.learn(again, source_sha256=again.sha256) == []
    lib._store = store  # type: ignore[method-assign]
    changed = _module("text_deduplicate", "def dedupe(lines):\n    return sorted(set(lines))\n")
    assert [p.id for p in lib.learn(changed, source_sha256="0" * 64)] == ["text_deduplicate:c0004"]
    # A second library object on the same directory sees everything.
    assert [p.id for p in PatternLibrary(tmp_path / "patterns").patterns()] == [
        f"text_deduplicate:c000{i}" for i in range(1, 5)]


def test_invalid_tool_names_are_never_stored(tmp_path: Path) -> None:
    lib = PatternLibrary(tmp_path / "lib" / "patterns")
    for tool in ("../escape", "a/b", "", "x" * 129, "sp ace", "nul\0"):
        assert lib.learn(_module(tool, "def f():\n    return 1\n"), source_sha256="0" * 64) == []
    assert sorted(p.name for p in (tmp_path / "lib").rglob("*")) == [".by-content", "patterns"]


def test_symlinks_and_corrupt_files_in_the_library_are_skipped(tmp_path: Path) -> None:
    root = tmp_path / "patterns"
    lib = PatternLibrary(root)
    outside = tmp_path / "secret.json"
    outside.write_text('{"id": "evil:c0001"}')
    (root / "evil:c0001.json").symlink_to(outside)
    (root / "junk:c0001.json").write_text("not json")
    (root / "other:c0001.json").write_text('{"id": "mismatch:c0001"}')
    bundle = _module("evil", "def f():\n    return 1\n")
    added = lib.learn(bundle, source_sha256=bundle.sha256)
    # The planted symlink holds number 1: the link claim skips past it, never through it.
    assert [p.id for p in added] == ["evil:c0002"]
    assert [p.id for p in lib.patterns()] == ["evil:c0002"]
    assert outside.read_text() == '{"id": "evil:c0001"}'


@pytest.mark.parametrize("depth", [900, 100_000])
def test_hostile_nesting_is_learned_or_skipped_never_an_error(tmp_path: Path, depth: int) -> None:
    lib = PatternLibrary(tmp_path / "patterns")
    bundle = _module("deep", f"def ok():\n    return 1\n\ndef f():\n    return {'-' * depth}1\n")
    added = lib.learn(bundle, source_sha256=bundle.sha256)
    assert [p.name for p in added] in (["ok", "f"], [])
    assert lib.candidates(bundle, "f", "", "deep", 3) == []


def test_a_symlinked_library_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "patterns").symlink_to(tmp_path / "real")
    with pytest.raises(ValueError, match="symlink"):
        PatternLibrary(tmp_path / "patterns")


_WORKER = """
import sys, time
from pathlib import Path
from repairlab.repair.bundle import Bundle
from repairlab.repair.patterns import PatternLibrary
root, worker, go = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
lib = PatternLibrary(root)
while not go.exists():
    time.sleep(0.005)
for i in range(8):
    src = f"def shared(x):\\n    return x + 1\\n\\ndef f_{worker}_{i}(x):\\n    return x * {i}\\n"
    b = Bundle({"mod.py": src, "test_mod.py": ""}, ("test_mod.py",), "mod.py", "conc")
    lib.learn(b, source_sha256=b.sha256)
"""


def test_ids_are_unique_and_content_stored_once_under_concurrent_writers(tmp_path: Path) -> None:
    root = tmp_path / "patterns"
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    procs = [
        subprocess.Popen([sys.executable, "-c", _WORKER, str(root), str(w), str(go)], env=env)
        for w in range(4)
    ]
    time.sleep(0.5)  # let every writer reach the start line; they start together
    go.touch()
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0, 0]
    patterns = PatternLibrary(root).patterns()
    ids = [p.id for p in patterns]
    assert all(ID_RE.fullmatch(i) for i in ids)
    assert len(ids) == len(set(ids)) == 4 * 8 + 1
    assert sorted(p.number for p in patterns) == list(range(1, 34))
    assert [p.name for p in patterns].count("shared") == 1
    assert not [n for n in os.listdir(root) if n.startswith(".tmp-")]


def test_ranking_prefers_same_name_and_tool_then_name_then_similar(tmp_path: Path) -> None:
    lib = PatternLibrary(tmp_path / "patterns")
    lib.learn(_module("other", "def slugify(text):\n    return 'o'\n"), source_sha256="1" * 64)
    lib.learn(_module("mine", "def slugify(text):\n    return 'm'\n"), source_sha256="2" * 64)
    lib.learn(_module("mine", "def slugify_all(text):\n    return 'a'\n"), source_sha256="3" * 64)
    lib.learn(_module("mine", "def unrelated(text):\n    return 'u'\n"), source_sha256="4" * 64)
    lib.learn(_module("mine", "class slugify:\n    pass\n"), source_sha256="5" * 64)
    best = lib.candidates(None, "slugify", "text", "mine", 5)
    assert [(p.tool, p.name) for p in best] == [
        ("mine", "slugify"), ("other", "slugify"), ("mine", "slugify_all")]
    assert lib.candidates(None, "slugify", "text", "mine", 1)[0].source_sha256 == "2" * 64
    # The definition the bundle already holds is never offered back.
    holder = _module("mine", "def slugify(text):\n    return 'm'\n")
    assert [p.tool for p in lib.candidates(holder, "slugify", "text", "mine", 1)] == ["other"]


def test_library_is_pruned_oldest_first_and_numbers_are_never_reused(tmp_path: Path) -> None:
    lib = PatternLibrary(tmp_path / "patterns", max_stored=3)
    for i in range(5):
        bundle = _module("t", f"def f{i}():\n    return {i}\n")
        lib.learn(bundle, source_sha256=bundle.sha256, now=1000.0 + i)
    assert [p.id for p in lib.patterns()] == ["t:c0003", "t:c0004", "t:c0005"]
    # The pruned content may be learned again: it gets a fresh number.
    lib.learn(_module("t", "def f0():\n    return 0\n"), source_sha256="0" * 64, now=2000.0)
    assert [p.id for p in lib.patterns()][-1] == "t:c0006"
    assert len(lib) == 3


def test_transplant_replaces_only_the_definition_and_adds_its_imports(tmp_path: Path) -> None:
    lib = PatternLibrary(tmp_path / "patterns")
    good = _module("t", "import re\nimport os\n\n\ndef words(s):\n    return re.findall('a', s)\n")
    (pattern,) = lib.learn(good, source_sha256=good.sha256)
    source = '"""Doc."""\n\nX = 1\n\n\n@decorate\ndef word_list(s):\n    return s\n\n\nY = 2\n'
    target = definitions(source)[0]
    result = transplant(source, target, pattern)
    assert result == ('"""Doc."""\nimport re\n\nX = 1\n\n\ndef word_list(s):\n'
                      "    return re.findall('a', s)\n\n\nY = 2\n")


# ---- pattern_transplant end to end -------------------------------------------------


@pytest.mark.parametrize("case_name", TRANSPLANT_CASES)
def test_pattern_transplant_repairs_corpus_case_from_its_seed(
    case_name: str, runner: Runner, tmp_path: Path
) -> None:
    case = load_case(CORPUS / case_name)
    bundle = case.bundle
    assert case.expect == "pattern_transplant"
    lib = PatternLibrary.for_state_root(tmp_path)
    engine = Engine(
        RepairSettings(strategies=("noop", "signature_adapter", "pattern_transplant")),
        runner, patterns=lib,
    )
    seeds = []
    assert case.seeds
    for seed in case.seeds:
        learned = engine.repair(seed)  # a passing bundle: the engine teaches the library
        assert learned.strategy == "noop"
        seeds.append(bundle_sha256(seed.files))
    outcome = engine.repair(bundle)
    assert outcome.repaired, outcome.reason
    assert outcome.strategy == "pattern_transplant"
    assert outcome.pattern_id is not None and ID_RE.fullmatch(outcome.pattern_id)
    assert outcome.pattern_id.startswith(f"{bundle.tool}:c")
    assert outcome.details["pattern_id"] == outcome.pattern_id
    assert outcome.details["source_sha256"] in seeds
    assert outcome.files is not None
    for test in bundle.tests:
        assert outcome.files[test] == bundle.files[test]
    # The repaired bundle was learned in turn: all its definitions are now known.
    known = {p.content_sha256 for p in lib.patterns()}
    repaired = definitions(outcome.files[bundle.entrypoint])
    assert {normalized_sha256(d.kind, d.source, bundle.tool) for d in repaired} <= known


def test_pattern_transplant_without_a_library_does_nothing(runner: Runner) -> None:
    bundle = load_case(CORPUS / TRANSPLANT_CASES[0]).bundle
    engine = Engine(RepairSettings(strategies=("pattern_transplant",)), runner, patterns=None)
    outcome = engine.repair(bundle)
    assert not outcome.repaired
    assert outcome.candidates == 0


@pytest.mark.parametrize("case_name", HOPELESS_CASES)
def test_hopeless_case_is_repaired_by_none_of_these_strategies(
    case_name: str, runner: Runner, tmp_path: Path
) -> None:
    bundle = load_case(CORPUS / case_name).bundle
    lib = PatternLibrary(tmp_path / "patterns")
    for seeded in TRANSPLANT_CASES:  # a library that holds something, of other tools
        for seed in load_case(CORPUS / seeded).seeds:
            lib.learn(seed, source_sha256=seed.sha256)
    settings = RepairSettings(
        strategies=("noop", "signature_adapter", "pattern_transplant", "external_agent"))
    outcome = Engine(settings, runner, patterns=lib).repair(bundle)
    assert not outcome.repaired
    assert outcome.reason.startswith("tests fail")
    assert outcome.files is None


def test_definitions_locate_decorators_classes_and_the_imports_they_use() -> None:
    source = ("import re\nfrom os import path as p\n\n\n@cache\n@other(1)\ndef f(x):\n"
              "    return re.sub('a', '', p.join(x))\n\n\nclass K:\n    pass\n")
    f, k = definitions(source)
    assert (f.name, f.start, f.end, f.kind) == ("f", 5, 8, "function")
    assert f.source.startswith("@cache\n") and f.source.endswith("p.join(x))\n")
    assert (k.name, k.start, k.end, k.kind, k.signature) == ("K", 11, 12, "class", "")
    assert imports_used(source, f.uses) == ("import re", "from os import path as p")
    assert definitions("def broken(:\n") == []


def test_traceback_lines_read_pytest_and_python_formats() -> None:
    output = ('pkg/mod.py:12: in f\n  File "/scratch/pkg/mod.py", line 30, in g\n'
              "othermod.py:7: in h\nE   mod.py:3: AssertionError\n")
    assert traceback_lines(output, "pkg/mod.py") == [12, 30, 3]


def test_name_similarity_orders_exact_then_spelling_then_related_names() -> None:
    exact, spelling = name_similarity("top_k", "top_k"), name_similarity("top_k", "TopK")
    related, other = name_similarity("top_k", "top_k_items"), name_similarity("top_k", "parse")
    assert exact > spelling > related > other
    assert other < 0.5 <= related


def test_get_reads_one_pattern_and_refuses_malformed_ids(tmp_path: Path) -> None:
    lib = PatternLibrary(tmp_path / "patterns")
    (pattern,) = lib.learn(_module("t", "def f():\n    return 1\n"), source_sha256="0" * 64)
    assert lib.get("t:c0001") == pattern
    for bad in ("t:c0002", "../t:c0001", "t:c1", "t", "t:c0001.json/x"):
        assert lib.get(bad) is None


def test_prune_removes_temp_files_of_writers_that_died(tmp_path: Path) -> None:
    lib = PatternLibrary(tmp_path / "patterns", max_stored=1)
    stale = tmp_path / "patterns" / ".tmp-99999-dead"
    stale.write_text("half a pattern")
    os.utime(stale, (1000.0, 1000.0))
    odd_tool = _module(".tmp-tool", "def g():\n    return 0\n")
    (kept,) = lib.learn(odd_tool, source_sha256="0" * 64, now=1000.0)
    os.utime(tmp_path / "patterns" / f"{kept.id}.json", (1000.0, 1000.0))
    for i in range(2):
        lib.learn(_module("t", f"def f{i}():\n    return {i}\n"), source_sha256="0" * 64)
    assert not stale.exists()
    # Each tool keeps its newest pattern, whatever its name looks like.
    assert [p.id for p in lib.patterns()] == [".tmp-tool:c0001", "t:c0002"]
