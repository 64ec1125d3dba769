"""signature_adapter: corpus cases repaired end to end, and the static analysis behind it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from repairlab.repair import Bundle, Engine, RepairSettings, Runner
from repairlab.repair.callsites import module_info, module_names, scan_tests
from repairlab.repair.corpus import load_case
from repairlab.repair.strategies.adapter import Adapter, plan

CORPUS = Path(__file__).parent / "corpus"
ADAPTER_CASES = sorted(p.name for p in CORPUS.glob("adapter_*") if (p / "case.json").exists())
EXPECTED_KIND = {
    "adapter_rename_slugify": "rename",
    "adapter_rename_module_attr": "rename",
    "adapter_reorder_pad": "reorder",
    "adapter_keyword_wrap": "keyword",
}




def test_corpus_has_a_case_of_each_adapter_kind() -> None:
    assert set(EXPECTED_KIND) <= set(ADAPTER_CASES)


@pytest.mark.parametrize("case_name", ADAPTER_CASES)
def test_signature_adapter_repairs_corpus_case(case_name: str, runner: Runner) -> None:
    case = load_case(CORPUS / case_name)
    bundle = case.bundle
    assert case.expect == "signature_adapter"
    engine = Engine(RepairSettings(strategies=("noop", "signature_adapter")), runner)
    outcome = engine.repair(bundle)
    assert outcome.repaired, outcome.reason
    assert outcome.strategy == "signature_adapter"
    assert outcome.pattern_id is None
    assert outcome.details["kind"] == EXPECTED_KIND.get(case_name, outcome.details["kind"])
    assert outcome.files is not None
    for test in bundle.tests:
        assert outcome.files[test] == bundle.files[test]
    # Only code was appended: the original entrypoint is a prefix of the repaired one.
    assert outcome.files[bundle.entrypoint].startswith(bundle.files[bundle.entrypoint].rstrip())
    assert outcome.report.passed == len(outcome.report.outcomes) >= 1


def test_no_mismatch_means_no_candidate_is_run(runner: Runner) -> None:
    bundle = load_case(CORPUS / "hopeless_median_is_mean").bundle
    engine = Engine(RepairSettings(strategies=("signature_adapter",)), runner)
    outcome = engine.repair(bundle)
    assert not outcome.repaired
    assert outcome.candidates == 0


def _bundle(module: str, test: str) -> Bundle:
    return Bundle({"mod.py": module, "test_mod.py": test}, ("test_mod.py",), "mod.py", "t")


def test_missing_name_prefers_the_function_the_tests_never_use() -> None:
    bundle = _bundle(
        "def used(x):\n    return x\n\ndef make_slug(text, sep='-'):\n    return text\n",
        "from mod import used, slugify\n\n"
        "def test_a():\n    assert slugify('a b', '_') == used('a_b')\n",
    )
    plans = plan(bundle, {}, "ImportError: cannot import name 'slugify'")
    assert plans[0] == [Adapter("slugify", "make_slug", "rename")]
    assert "slugify = make_slug" in plans[0][0].code()


def test_unknown_keyword_is_renamed_to_the_closest_free_parameter() -> None:
    bundle = _bundle(
        "def wrap(text, width=20, indent=0):\n    return text\n",
        "import mod\n\ndef test_a():\n    assert mod.wrap('x', max_width=3) == 'x'\n",
    )
    plans = plan(bundle, {"test_mod.py::test_a": False}, "TypeError: unexpected keyword")
    assert plans[0] == [Adapter("wrap", "wrap", "keyword", keywords=(("max_width", "width"),))]
    code = plans[0][0].code()
    ast.parse(code)
    assert "_repairlab_wrap = wrap" in code


def test_reorder_needs_evidence() -> None:
    module = "def pad(width, text):\n    return text.rjust(width)\n"
    test = "from mod import pad\n\ndef test_a():\n    assert pad('ab', 4) == '  ab'\n"
    failed = {"test_mod.py::test_a": False}
    assert plan(_bundle(module, test), failed, "assert 1 == 2") == []
    traceback = "mod.py:2: in pad\nE   AttributeError: 'int' object has no attribute 'rjust'"
    plans = plan(_bundle(module, test), failed, traceback)
    assert [a.describe() for a in plans[0]] == ["pad args[1, 0]"]


def test_annotations_that_contradict_the_literals_order_the_permutations() -> None:
    module = "def f(a: int, b: str, c: float):\n    return a\n"
    test = "from mod import f\n\ndef test_a():\n    assert f('x', 1.5, 2) == 2\n"
    plans = plan(_bundle(module, test), {"test_mod.py::test_a": False}, "")
    assert plans[0][0].order == (2, 0, 1)


def test_scan_follows_aliases_and_only_counts_failing_tests_as_failing() -> None:
    bundle = _bundle(
        "def f(a):\n    return a\n",
        "import mod as m\nfrom mod import f as g\n\n"
        "def test_ok():\n    assert m.f(1) == 1\n\n"
        "def test_bad():\n    assert g(1, k=2) == 1\n",
    )
    usage = scan_tests(bundle, {"test_mod.py::test_ok": True, "test_mod.py::test_bad": False})
    assert usage.referenced == {"f"}
    assert len(usage.calls["f"]) == 2
    assert [(s.positional, s.keywords) for s in usage.failing_calls["f"]] == [(1, ("k",))]


def test_unparsable_entrypoint_gives_no_plan() -> None:
    bundle = _bundle("def f(:\n", "from mod import g\n\ndef test_a():\n    assert g()\n")
    assert plan(bundle, {}, "") == []


@pytest.mark.parametrize("depth", [900, 100_000])
def test_hostile_nesting_gives_no_plan_rather_than_an_error(depth: int) -> None:
    deep = "-" * depth + "1"
    bundle = _bundle(f"def f():\n    return {deep}\n",
                     f"import mod\n\ndef test_a():\n    assert mod.g({deep})\n")
    assert plan(bundle, {}, "") == []


def test_generated_reorder_wrapper_is_valid_python_that_keeps_the_original() -> None:
    code = Adapter("pad", "pad", "reorder+keyword", order=(1, 0),
                   keywords=(("w", "width"),)).code()
    tree = ast.parse(code)
    names = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert names == ["pad"]
    assert "args = (args[1], args[0], *args[2:])" in code
    assert "kwargs['width'] = kwargs.pop('w')" in code


def test_module_names_cover_every_import_path_of_a_nested_entrypoint() -> None:
    assert module_names("pkg/sub/mod.py") == {"pkg.sub.mod", "sub.mod", "mod"}
    assert module_names("pkg/__init__.py") == {"pkg"}


def test_scan_sees_star_imports_and_modules_imported_from_their_package() -> None:
    files = {
        "pkg/mod.py": "def f(a):\n    return a\n",
        "test_star.py": "from pkg.mod import *\n\ndef test_a():\n    assert g(1) and len('x')\n",
        "test_pkg.py": "from pkg import mod as m\n\ndef test_b():\n    assert m.h(x=1)\n",
    }
    bundle = Bundle(files, ("test_pkg.py", "test_star.py"), "pkg/mod.py", "t")
    usage = scan_tests(bundle, {})
    assert usage.star_import
    # Builtins called under a star import are not taken for the module's names.
    assert usage.referenced == {"g", "h"}
    assert [(s.positional, s.keywords) for s in usage.calls["h"]] == [(0, ("x",))]


def test_module_info_knows_every_kind_of_top_level_binding() -> None:
    info = module_info(
        "import os.path as p\nfrom x import y\nA = 1\nfor B in (): pass\n"
        "class C:\n    def __init__(self, n: int, *, k='s'):\n        pass\n"
        "def d(a, /, b=2, *args, c, **kw):\n    pass\n"
    )
    assert info is not None and not info.opaque
    assert {"p", "y", "A", "B", "C", "d"} <= info.bound
    c, d = info.signatures["C"], info.signatures["d"]
    assert (c.positional, c.keyword_only, c.expected, c.is_class) == (
        ("n",), ("k",), ("int",), True)
    assert (d.positional, d.required, d.var_positional, d.var_keyword) == (
        ("a", "b"), 1, True, True)
    star = module_info("from x import *\n")
    assert star is not None and star.opaque


def test_two_missing_names_are_adapted_together() -> None:
    bundle = _bundle(
        "def make_slug(text):\n    return text\n\ndef count_words(text):\n    return 1\n",
        "from mod import slugify, word_count\n\n"
        "def test_a():\n    assert slugify('a') and word_count('a b')\n",
    )
    first = plan(bundle, {}, "")[0]
    assert sorted(a.describe() for a in first) == [
        "slugify -> make_slug", "word_count -> count_words"]
