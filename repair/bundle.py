"""A bundle: the files of one tool and which of them are its tests."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field


def bundle_sha256(files: Mapping[str, str]) -> str:
    """The SPEC's `bundle_sha256`: over paths sorted by their UTF-8 bytes,
    ``path \\0 content \\0`` each, SHA-256 in lower-case hex."""
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.encode("utf-8")):
        digest.update(path.encode("utf-8"))
        digest.update(b"\0")
        digest.update(files[path].encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def default_tests(files: Mapping[str, str]) -> tuple[str, ...]:
    """Every `test_*.py` and `*_test.py` in the bundle, in path order."""
    found = []
    for path in files:
        base = path.rsplit("/", 1)[-1]
        if base.endswith(".py") and (base.startswith("test_") or base.endswith("_test.py")):
            found.append(path)
    return tuple(sorted(found))


@dataclass(frozen=True)
class Bundle:
    """The whole of one tool: `files` (relative path -> text), its `tests`
    (paths among `files`), the `entrypoint` under repair and the `tool` name."""

    files: Mapping[str, str]
    tests: tuple[str, ...]
    entrypoint: str
    tool: str = "tool"
    sha256: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.sha256:
            object.__setattr__(self, "sha256", bundle_sha256(self.files))

    @property
    def sources(self) -> dict[str, str]:
        """The files that are not tests: the only ones a repair may touch."""
        tests = set(self.tests)
        return {p: t for p, t in self.files.items() if p not in tests}

    def with_files(self, changed: Mapping[str, str]) -> Bundle:
        """A copy with `changed` merged over the files. Test files never change:
        a key naming a test is a programming error and raises ValueError."""
        bad = set(changed) & set(self.tests)
        if bad:
            raise ValueError(f"a repair may not edit test files: {sorted(bad)}")
        merged = dict(self.files)
        merged.update(changed)
        return Bundle(merged, self.tests, self.entrypoint, self.tool)
