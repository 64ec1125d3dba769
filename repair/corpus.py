"""The buggy-tool corpus: one directory per case, for tests and benchmarks.

A case is ``<root>/<name>/case.json`` plus ``<root>/<name>/files/`` holding the bundle::

    {"tool": "bsearch", "entrypoint": "bsearch.py", "tests": ["test_bsearch.py"],
     "expect": "heuristic_microfix", "bug": "<one line>", "test_timeout": 2}

`tests` is optional (default: the SPEC's `test_*.py` / `*_test.py`), `expect` names the
strategy that should repair the bundle (null: nobody should), `test_timeout` (seconds,
optional) bounds one test run for cases whose bug loops forever.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repair.bundle import Bundle, default_tests


class CaseInvalid(ValueError):
    """A corpus case is malformed; the message names the case and what is wrong."""


@dataclass(frozen=True)
class Case:
    """One corpus case: its name, the buggy bundle and the metadata of case.json."""

    name: str
    bundle: Bundle
    meta: dict[str, Any]
    _seeds: tuple[Bundle, ...] = ()

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
    def test_timeout(self) -> float | None:
        """The case's own bound on one test run, if it sets one."""
        value = self.meta.get("test_timeout")
        return float(value) if value is not None else None


def _read_files(root: Path, base: Path) -> dict[str, str]:
    files: dict[str, str] = {}
    for file in sorted(base.rglob("*")) if base.is_dir() else []:
        if file.is_file() and "__pycache__" not in file.parts:
            rel = file.relative_to(base).as_posix()
            try:
                files[rel] = file.read_text(encoding="utf-8")
            except UnicodeDecodeError as exc:
                raise CaseInvalid(f"{root.name}: {rel} is not UTF-8") from exc
    if not files:
        raise CaseInvalid(f"{root.name}: {base.name}/ is empty or missing")
    return files


def load_case(path: Path | str) -> Case:
    """Read one case directory.

    Raises CaseInvalid when case.json is missing or not an object, when `files/` (or a
    seed directory) is empty, when the entrypoint or a listed test is not among the
    files, or when a file is not UTF-8 text.
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
    return Case(root.name, bundle, meta, tuple(seeds))


def load_corpus(root: Path | str) -> list[Case]:
    """Every case under `root` (each subdirectory holding a case.json), by name.

    A malformed case raises CaseInvalid rather than being skipped, so a broken corpus
    is noticed.
    """
    base = Path(root)
    return [load_case(d) for d in sorted(base.iterdir()) if (d / "case.json").is_file()]


DEFAULT_ROOT = Path(__file__).resolve().parent.parent / "tests" / "corpus"
