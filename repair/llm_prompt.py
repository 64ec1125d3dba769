"""The prompt of the `llm` strategy: what a good human reviewer would want to see.

It carries the entrypoint's source with line numbers, the other source files, the
tests (shown read-only, as the specification, never as something to edit), the
failing tests' names and their assertion output, the lines that fault localization
ranks most suspicious, and which strategies already tried and failed. Every part is
bounded, so a huge bundle makes a long prompt, never an unbounded one.

The prompt is a pure function of the bundle and of its first run's outcome, with the
run's timings and scratch paths taken out: the next attempt at the same bundle
builds the very same prompt, which is what lets the response cache
(`state.llm_cache`) answer it without paying again. `PromptParts.sha256` is its
hash, recorded in the challenger's provenance.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec

from repairlab.repair.bundle import Bundle
from repairlab.repair.localize import localize
from repairlab.repair.report import TestReport

MAX_ENTRYPOINT_LINES = 600
MAX_OTHER_SOURCE_BYTES = 16_000
MAX_TEST_BYTES = 12_000
MAX_OUTPUT_CHARS = 4_000
MAX_FAILING = 20
MAX_SUSPECTS = 8

SYSTEM = (
    "You repair Python code so that its existing tests pass. The tests are the "
    "specification: never change, add or remove a test file. Change as little as "
    "needed. Reply with the complete corrected file in one fenced ```python block "
    "whose first line is a comment naming the file (e.g. `# file: pkg/mod.py`), or "
    "with a unified diff. No explanation is needed."
)

_TIMING = re.compile(r"\bin [0-9]+(?:\.[0-9]+)?s\b")
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")
_TMP_PATH = re.compile(r"/tmp/[^\s:'\"()]*")
_SECTION = re.compile(r"^=+ (FAILURES|ERRORS) =+$", re.MULTILINE)


@dataclass(frozen=True)
class PromptParts:
    """The chat messages and their hash (hex SHA-256 of their JSON)."""

    messages: list[dict[str, str]]
    sha256: str


def numbered(text: str, limit: int = MAX_ENTRYPOINT_LINES) -> str:
    """`text` with right-aligned line numbers, `limit` lines at most."""
    lines = text.splitlines()
    width = len(str(min(len(lines), limit)))
    shown = [f"{i:>{width}} | {line}" for i, line in enumerate(lines[:limit], 1)]
    if len(lines) > limit:
        shown.append(f"... ({len(lines) - limit} more lines not shown)")
    return "\n".join(shown)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "\n... (cut)"


def failure_output(report: TestReport, paths: Sequence[str]) -> str:
    """The assertion output of a run, deterministic: the last FAILURES/ERRORS
    section onward, timings, object addresses and temporary paths masked, scratch
    directories cut from the bundle's paths, bounded to MAX_OUTPUT_CHARS (the
    tail, where pytest's summary is)."""
    if report.timed_out:
        return f"(the tests did not finish: {report.summary()})"
    text = report.output
    sections = list(_SECTION.finditer(text))
    if sections:
        text = text[sections[-1].start():]
    text = _TIMING.sub("in ?s", text)
    for path in sorted(paths, key=len, reverse=True):
        text = re.sub(r"(?:/[^\s/:'\"]+)+/" + re.escape(path), path, text)
    # What differs from run to run must not change the prompt (and so miss the cache).
    text = _TMP_PATH.sub("<tmp>", _ADDRESS.sub("0x?", text))
    text = text.strip()
    if len(text) > MAX_OUTPUT_CHARS:
        text = "... (cut)\n" + text[-MAX_OUTPUT_CHARS:]
    return text or report.summary()


def build_prompt(bundle: Bundle, first_run: TestReport, tried: Sequence[str]) -> PromptParts:
    """The messages for `bundle`, whose first run was `first_run`, after the
    strategies `tried` found nothing. Never raises on odd input: source that does
    not parse simply gets no suspicious lines."""
    entry = bundle.entrypoint
    sources = bundle.sources
    tests = {p: bundle.files[p] for p in bundle.tests if p in bundle.files}
    parts: list[str] = [
        f"The Python tool `{bundle.tool}` fails its tests. Repair `{entry}` (or, if the "
        "fault is there, another non-test source file) so that every test passes.",
        f"## {entry} (line numbers are for reference only: do not put them in your reply)\n"
        f"```python\n{numbered(sources.get(entry, ''))}\n```",
    ]
    others = [p for p in sorted(sources) if p != entry]
    budget = MAX_OTHER_SOURCE_BYTES
    for path in others:
        text = sources[path]
        if len(text) > budget:
            parts.append(f"## {path}\n(not shown: {len(text)} bytes)")
            continue
        budget -= len(text)
        parts.append(f"## {path}\n```python\n{text}\n```")
    budget = MAX_TEST_BYTES
    for path in sorted(tests):
        text = _cut(tests[path], budget)
        budget = max(0, budget - len(text))
        parts.append(f"## {path} (a test file: read-only, never edit it)\n"
                     f"```python\n{text}\n```")
    failing = sorted(nid for nid, ok in first_run.outcomes.items() if not ok)
    if failing:
        listed = "\n".join(f"- {nid}" for nid in failing[:MAX_FAILING])
        more = f"\n- ... and {len(failing) - MAX_FAILING} more" \
            if len(failing) > MAX_FAILING else ""
        parts.append(f"## Failing tests\n{listed}{more}")
    parts.append("## Test output\n```\n"
                 f"{failure_output(first_run, list(bundle.files))}\n```")
    suspects = _suspects(bundle, sources, tests, first_run)
    if suspects:
        parts.append("## Most suspicious lines (spectrum-based fault localization)\n"
                     + "\n".join(suspects))
    if tried:
        parts.append("## Already tried\nAn automatic search found no passing candidate "
                     f"with: {', '.join(tried)}. The fix likely needs more than a "
                     "one-token edit.")
    parts.append(f"## Your reply\nThe complete corrected `{entry}` in one fenced ```python "
                 f"block starting with `# file: {entry}`, or a unified diff "
                 f"(`--- a/{entry}` / `+++ b/{entry}`).")
    messages = [{"role": "system", "content": SYSTEM},
                {"role": "user", "content": "\n\n".join(parts)}]
    digest = hashlib.sha256(msgspec.json.encode(messages)).hexdigest()
    return PromptParts(messages=messages, sha256=digest)


def _suspects(bundle: Bundle, sources: dict[str, str], tests: dict[str, str],
              first_run: TestReport) -> list[str]:
    py_sources = {p: t for p, t in sources.items() if p.endswith(".py")}
    try:
        ranked = localize(py_sources, tests, first_run.outcomes, coverage=first_run.coverage,
                          output=first_run.output, timed_out=first_run.timed_out)
    except (SyntaxError, ValueError, RecursionError):
        return []
    shown: list[str] = []
    for suspect in ranked:
        if suspect.score <= 0 or len(shown) >= MAX_SUSPECTS:
            break
        lines = py_sources.get(suspect.path, "").splitlines()
        code = lines[suspect.line - 1].strip() if 0 < suspect.line <= len(lines) else ""
        shown.append(f"- {suspect.path}:{suspect.line} (score {suspect.score:.2f}): `{code}`")
    return shown


__all__ = ["SYSTEM", "PromptParts", "build_prompt", "failure_output", "numbered"]
