"""The buggy-tool corpus: one directory per case, for tests and benchmarks.

A case is ``<root>/<name>/case.json`` plus ``<root>/<name>/files/`` holding the bundle::

    {"tool": "bsearch", "entrypoint": "bsearch.py", "tests": ["test_bsearch.py"],
     "expect": "heuristic_microfix", "bug": "<one line>", "test_timeout": 2}

`tests` is optional (default: the SPEC's `test_*.py` / `*_test.py`), `expect` names the
strategy that should repair the bundle (null: nobody should), `test_timeout` (seconds,
optional) bounds one test run for cases whose bug loops forever.

Each case also names its `class` (a key of `CLASSES`) and holds two directories the
engine never sees: `fixed/`, the reference fix (only the source files it changes, at the
same paths as under `files/`; absent for a hopeless case that has none), and `hidden/`,
stronger tests (more inputs, corner cases) that judge whether a repair is correct rather
than merely passing the given tests. `since` is 1 for the first 66 cases (written before
round two of the engine) and 2 for those added with it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repairlab.repair.bundle import Bundle, default_tests

CLASSES: dict[str, str] = {
    # What the first corpus exercised (SPEC's classic micro-edits, adapters, transplants).
    "operator": "a wrong operator: arithmetic, comparison, boolean, bitwise, augmented, membership",
    "negation": "a condition negated, or a negation dropped",
    "wrong_name": "a variable, function, method or attribute replaced by another one in scope",
    "small_constant": "a literal that is off by one or flipped (0/1, True/False)",
    "off_by_one": "an index, range bound or slice bound off by one",
    "swapped": "swapped arguments, operands, tuple elements, subscripts or statements",
    "stray_code": "a spurious statement, operand, clause or call that must be deleted",
    "interface_mismatch": "the tests call the tool under another name, keyword or argument order",
    "regression_rewrite": "a definition rewritten wrongly; a known-good earlier version exists",
    "hopeless": "no small edit, adapter or transplant can fix it (expect null)",
    # What round two adds (issue 13): the missing edit kinds ...
    "missing_statement": "an assignment between names in scope, or a call mirroring one the "
                         "function already makes, is missing",
    "constant_for_expression": "a literal (loop or branch condition, return value, empty "
                               "collection) that should be an expression in scope",
    "condition_clause": "a condition that must be widened or narrowed by a clause from names in "
                        "scope (None check, emptiness check, bound)",
    "wrap_or_extend": "an expression to wrap in a call, extend by an arithmetic tail or a slice, "
                      "or put in a one-element collection",
    "two_tokens": "two tokens of one expression wrong at once, or index arithmetic in a subscript",
    "endless_loop": "the bug makes a loop or recursion run forever",
    # ... and what machine-written tools add.
    "missing_attribute": "a method or attribute that does not exist (str.contains, list.push)",
    "sibling_function": "a function from the wrong module or its sibling (loads/load, "
                        "search/match, mean/median)",
    "import": "a missing or misspelt import",
    "str_plus_int": "str and int (or another non-str) concatenated",
    "division": "true division / where floor division // was meant, or the reverse",
    "bytes_str": "bytes where str was meant, or the reverse",
    "missing_conversion": "a conversion is missing: int(...), float(...), str(...), .encode()",
    "wrong_exception": "the wrong exception type is caught",
    "dict_default": "d[k] where a default (d.get(k, default)) was meant",
    "string_constant": "a wrong string constant (separator, format), or one that should be a "
                       "module constant already defined",
    "int_constant": "an integer constant that is wrong but not off by one (1000 for 1024)",
    "guard_in_loop": "a guard that belongs inside the loop (continue) rather than at the top "
                     "of the function",
    "return_type": "a list returned where a tuple (or another container) is expected",
    "two_place": "two separate lines are wrong; both must be fixed",
    "corner_case": "an input the code forgets (empty, zero, single item): a guard with an early "
                   "return is missing",
    "api_misuse": "a standard-library call used wrongly (an in-place method's None result, a "
                  "wrong argument or keyword)",
}
"""Every case's `class`, with what it means. A case has exactly one."""


class CaseInvalid(ValueError):
    """A corpus case is malformed; the message names the case and what is wrong."""


@dataclass(frozen=True)
class Case:
    """One corpus case: its name, the buggy bundle and the metadata of case.json."""

    name: str
    bundle: Bundle
    meta: dict[str, Any]
    _seeds: tuple[Bundle, ...] = ()
    fixed_files: Mapping[str, str] = field(default_factory=dict)
    """The reference fix: changed source files only (empty when there is none)."""
    hidden_files: Mapping[str, str] = field(default_factory=dict)
    """Tests the engine never sees, to judge a repair; each is a test file."""

    @property
    def fixed_bundle(self) -> Bundle | None:
        """The bundle with the reference fix applied, or None without one."""
        return self.bundle.with_files(self.fixed_files) if self.fixed_files else None

    @property
    def hidden_tests(self) -> tuple[str, ...]:
        """The hidden test files' paths, in order."""
        return tuple(sorted(self.hidden_files))

    @property
    def expect(self) -> str | None:
        """The strategy expected to fix it, or None for a hopeless case."""
        value = self.meta.get("expect")
        return str(value) if value is not None else None

    @property
    def seeds(self) -> list[Bundle]:
        """Passing bundles of the same tool listed under `seed` in case.json, which the
        pattern library is taught from before the case is repaired (for
        `pattern_transplant` cases); empty when there are none."""
        return list(self._seeds)

    @property
    def cls(self) -> str:
        """The case's class, a key of `CLASSES`."""
        return str(self.meta.get("class", ""))

    @property
    def since(self) -> int:
        """1 for the first corpus, 2 for the cases added in round two."""
        return int(self.meta.get("since", 1))

    @property
    def test_timeout(self) -> float | None:
        """The case's own bound on one test run, if it sets one."""
        value = self.meta.get("test_timeout")
        return float(value) if value is not None else None


def _read_files(root: Path, base: Path, *, required: bool = True) -> dict[str, str]:
    files: dict[str, str] = {}
    for file in sorted(base.rglob("*")) if base.is_dir() else []:
        if file.is_file() and "__pycache__" not in file.parts:
            rel = file.relative_to(base).as_posix()
            try:
                files[rel] = file.read_text(encoding="utf-8")
            except UnicodeDecodeError as exc:
                raise CaseInvalid(f"{root.name}: {rel} is not UTF-8") from exc
    if not files and required:
        raise CaseInvalid(f"{root.name}: {base.name}/ is empty or missing")
    return files


def load_case(path: Path | str) -> Case:
    """Read one case directory.

    Raises CaseInvalid when case.json is missing or not an object, when `files/` (or a
    seed directory) is empty, when the entrypoint or a listed test is not among the
    files, when `class` is set but not a key of `CLASSES`, when a `fixed/` file is not a
    source file of the bundle or a `hidden/` file collides with one, or when a file is
    not UTF-8 text. The bundle holds only `files/`: never the fixed or hidden files.
    """
    root = Path(path)
    try:
        meta = json.loads((root / "case.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CaseInvalid(f"{root.name}: case.json unreadable: {exc}") from exc
    if not isinstance(meta, dict) or "entrypoint" not in meta:
        raise CaseInvalid(f"{root.name}: case.json must be an object with an entrypoint")
    files = _read_files(root, root / "files")
    tests = tuple(meta["tests"]) if meta.get("tests") else default_tests(files)
    missing = [p for p in (meta["entrypoint"], *tests) if p not in files]
    if missing:
        raise CaseInvalid(f"{root.name}: not among its files: {missing}")
    entry, tool = str(meta["entrypoint"]), str(meta.get("tool", root.name))
    bundle = Bundle(files, tests, entry, tool)
    seeds = []
    for rel in meta.get("seed") or ():
        seed_files = _read_files(root, root / rel)
        seeds.append(Bundle(seed_files, default_tests(seed_files), entry, tool))
    cls = meta.get("class")
    if cls is not None and cls not in CLASSES:
        raise CaseInvalid(f"{root.name}: unknown class {cls!r}")
    fixed = _read_files(root, root / "fixed", required=False)
    strays = sorted(set(fixed) - set(bundle.sources))
    if strays:
        raise CaseInvalid(f"{root.name}: fixed/ files that are not sources: {strays}")
    hidden = _read_files(root, root / "hidden", required=False)
    clashes = sorted(set(hidden) & set(files))
    if clashes:
        raise CaseInvalid(f"{root.name}: hidden/ files that shadow bundle files: {clashes}")
    return Case(root.name, bundle, meta, tuple(seeds), fixed, hidden)


def load_corpus(root: Path | str) -> list[Case]:
    """Every case under `root` (each subdirectory holding a case.json), by name.

    A malformed case raises CaseInvalid rather than being skipped, so a broken corpus
    is noticed.
    """
    base = Path(root)
    return [load_case(d) for d in sorted(base.iterdir()) if (d / "case.json").is_file()]


DEFAULT_ROOT = Path(__file__).resolve().parent.parent / "tests" / "corpus"
