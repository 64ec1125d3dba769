"""What the failing tests say went wrong: each failure's exception and innermost frame.

`symptoms(output, sources)` reads pytest's report of a test run (`TestReport.output`) and
returns one `Symptom` per failure that names an exception raised inside the bundle's own
sources: its type (`NameError`, `AttributeError`, ...), its message, and the innermost
frame of a source file (path, line). A module that fails to import is reported the same
way (its collection error names the import line), so a bundle without any coverage
still has a place to start. A run that timed out gives one `timeout` symptom without a
place. `PREFERRED_KINDS` says which edit kinds (see `repair.sourcefile.Edit.kind`) each
exception type calls for first.

Pure text parsing: nothing is run, nothing raises on odd output (it yields nothing).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# "path.py:12: in helper" (a frame) or "path.py:7: ZeroDivisionError" (the raising frame).
_FRAME = re.compile(r"^([\w./\\-]+\.py):(\d+): (in \S+|\w+(?:\.\w+)*)\s*$")
# "E   AttributeError: 'list' object has no attribute 'push'"
_ERROR = re.compile(r"^E\s+([A-Z]\w*(?:Error|Exception|Exit|Interrupt|Warning|Iteration)"
                    r"|AssertionError|KeyError|StopIteration)(?::\s?(.*))?$")
_SECTION = re.compile(r"^_{3,} (.+?) _{3,}$")

MAX_SYMPTOMS = 20

# Edit kinds to try first for each exception type (see `repair.mutations` for the kinds).
PREFERRED_KINDS: dict[str, frozenset[str]] = {
    "NameError": frozenset({"import", "name"}),
    "UnboundLocalError": frozenset({"name", "insert", "statement"}),
    "ModuleNotFoundError": frozenset({"import"}),
    "ImportError": frozenset({"import"}),
    "AttributeError": frozenset({"attribute", "import", "guard"}),
    "TypeError": frozenset({"convert", "wrap", "guard", "call", "operator"}),
    "KeyError": frozenset({"get", "guard", "string"}),
    "IndexError": frozenset({"index", "compare", "guard", "condition", "constant"}),
    "ZeroDivisionError": frozenset({"guard", "condition", "operator"}),
    "ValueError": frozenset({"string", "convert", "exception", "guard"}),
    "RecursionError": frozenset({"condition", "compare", "guard", "constant"}),
    "UnicodeDecodeError": frozenset({"convert", "string"}),
    "timeout": frozenset({"loop", "compare", "condition", "operator", "insert", "order"}),
}


@dataclass(frozen=True)
class Symptom:
    """One failure: the exception's type and message, and where in the sources it was
    raised (path and line of the innermost frame in a source file; None when no
    source frame is named, as for a timeout or an exception raised by a test)."""

    exc_type: str
    message: str
    path: str | None
    line: int | None

    @property
    def kinds(self) -> frozenset[str]:
        """The edit kinds this failure calls for first (empty for a plain assertion)."""
        return PREFERRED_KINDS.get(self.exc_type, frozenset())


def _match_source(printed: str, wanted: list[str]) -> str | None:
    printed = printed.replace("\\", "/")
    for path in wanted:
        if printed == path or printed.endswith("/" + path):
            return path
    return None


def symptoms(output: str, sources: Iterable[str], *, timed_out: bool = False) -> list[Symptom]:
    """The failures of one run, in the order pytest printed them (at most MAX_SYMPTOMS,
    duplicates folded). A failure whose innermost frame is not in `sources` keeps
    `path` None, unless an outer frame is: then the innermost source frame counts
    (a wrong call into the standard library is the bundle's fault at its call)."""
    wanted = sorted(sources, key=len, reverse=True)
    found: list[Symptom] = []
    seen: set[Symptom] = set()
    frame: tuple[str, int] | None = None
    exc: tuple[str, str] | None = None

    def close() -> None:
        nonlocal frame, exc
        if exc is not None:
            sym = Symptom(exc[0], exc[1][:300], frame[0] if frame else None,
                          frame[1] if frame else None)
            if sym not in seen:
                seen.add(sym)
                found.append(sym)
        frame, exc = None, None

    for raw in output.splitlines():
        line = raw.rstrip()
        if _SECTION.match(line) or line.startswith("=" * 5):
            close()
            continue
        m = _ERROR.match(line)
        if m:
            if exc is None:
                exc = (m.group(1), (m.group(2) or "").strip())
            continue
        m = _FRAME.match(line)
        if m:
            path = _match_source(m.group(1), wanted)
            if path is not None:
                frame = (path, int(m.group(2)))
            if not m.group(3).startswith("in ") and exc is None:
                exc = (m.group(3).rsplit(".", 1)[-1], "")
    close()
    if timed_out:
        found.append(Symptom("timeout", "", None, None))
    return found[:MAX_SYMPTOMS]


def first_assertion(output: str, files: Iterable[str], limit: int = 600) -> str:
    """The first failure's `E` lines (what the assertion or exception said) together
    with the frame line under them, from the first failure section that names one of
    the bundle's `files`, bounded to `limit` characters; "" when there is none."""
    wanted = sorted(files, key=len, reverse=True)
    section: list[str] = []
    for raw in [*output.splitlines(), "=" * 10]:
        line = raw.rstrip()
        if _SECTION.match(line) or line.startswith("=" * 5):
            text = _section_error(section, wanted)
            if text:
                return text if len(text) <= limit else text[: limit - 3] + "..."
            section = []
            continue
        section.append(line)
    return ""


def _section_error(lines: list[str], wanted: list[str]) -> str:
    frames = [m for m in map(_FRAME.match, lines) if m]
    if not any(_match_source(m.group(1), wanted) for m in frames):
        return ""
    said = [ln[1:].strip() for ln in lines if ln.startswith("E ") or ln == "E"]
    said = [ln for ln in said if ln]
    if not said:
        return ""
    return "\n".join([*said, frames[-1].group(0)])


__all__ = ["PREFERRED_KINDS", "Symptom", "first_assertion", "symptoms"]
