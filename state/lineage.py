"""`run.py lineage TOOL`: a tool's bundles and repairs, oldest first, linked by hashes.

The chain is rebuilt from what the state root holds:

- every challenger of the tool (`challengers/`): its `provenance` links the
  handoff's `parent_sha256` to its `bundle_sha256` and on to the
  `repaired_sha256`, and names the pattern's source bundle for a transplant;
- every quarantined handoff of the tool (`processed/hard_fail/`), from its
  reason file, and its `parent_sha256` from the handoff itself.

One entry per bundle (a duplicate handoff of a repaired bundle adds its name to
the entry's `handoffs`). An entry's `parent_index` points at the earlier entry
whose bundle or repaired result is its parent. What pruning removed is no
longer in the chain; a handoff in `processed/done/` whose challenger was pruned
is not listed (its provenance went with the challenger).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import msgspec

from repairlab.errors import UsageError
from repairlab.messages.records import Provenance
from repairlab.messages.reports import LineageEntry
from repairlab.state.layout import Layout
from repairlab.state.quarantine_ops import list_quarantined


class _ChallengerHead(msgspec.Struct):
    """The challenger fields the chain needs; `files` and `diff` are skipped."""

    tool: str
    bundle_sha256: str
    repaired_sha256: str
    repair_strategy: str
    created_at: str
    lineage: str | None = None
    repair_pattern_id: str | None = None
    repair_details: dict[str, Any] = msgspec.field(default_factory=dict)
    handoff_name: str | None = None
    provenance: Provenance | None = None


class _Parent(msgspec.Struct):
    parent_sha256: str | None = None


_challenger_decoder = msgspec.json.Decoder(_ChallengerHead)
_parent_decoder = msgspec.json.Decoder(_Parent)


def _challengers(directory: Path) -> list[tuple[str, _ChallengerHead]]:
    found = []
    try:
        with os.scandir(directory) as it:
            paths = [e.path for e in it
                     if e.name.startswith("challenger_") and e.name.endswith(".json")]
    except FileNotFoundError:
        return []
    for path in sorted(paths):
        try:
            with open(path, "rb") as fh:
                found.append((os.path.basename(path), _challenger_decoder.decode(fh.read())))
        except (OSError, msgspec.DecodeError):
            continue  # pruned meanwhile, or not a challenger: not part of any chain
    return found


def pattern_source(head: _ChallengerHead) -> str | None:
    """The bundle a transplanted pattern came from: the provenance field, else
    what the strategy reported in `repair_details` (older challengers, or a
    strategy that names it `source_sha256`)."""
    if head.provenance is not None and head.provenance.pattern_source_sha256:
        return head.provenance.pattern_source_sha256
    for key in ("pattern_source_sha256", "source_sha256"):
        value = head.repair_details.get(key)
        if isinstance(value, str):
            return value
    return None


def build_lineage(layout: Layout, tool: str) -> list[LineageEntry]:
    """The chain of `tool`, oldest first (by challenger creation or quarantine
    time). Raises UsageError when the root holds nothing of that tool.
    Unreadable challengers and handoffs are left out rather than fatal."""
    entries: dict[str, LineageEntry] = {}
    for name, head in _challengers(layout.challengers):
        if head.tool != tool:
            continue
        entry = entries.get(head.bundle_sha256)
        if entry is not None:  # a second result for one bundle: keep the first
            if head.handoff_name and head.handoff_name not in entry.handoffs:
                entry.handoffs.append(head.handoff_name)
            continue
        entries[head.bundle_sha256] = repaired_entry(name, head)
    for q in list_quarantined(layout):
        if q.tool != tool or q.bundle_sha256 is None:
            continue
        entry = entries.get(q.bundle_sha256)
        if entry is not None:
            entry.handoffs.append(q.name)
            continue
        parent = None
        try:
            parent = _parent_decoder.decode((layout.hard_fail / q.name).read_bytes()).parent_sha256
        except (OSError, msgspec.DecodeError):
            pass
        entries[q.bundle_sha256] = LineageEntry(
            at=q.quarantined_at or "", status="quarantined", bundle_sha256=q.bundle_sha256,
            parent_sha256=parent, lineage=q.lineage, handoffs=[q.name])
    if not entries:
        raise UsageError(f"no challenger or quarantined handoff of tool {tool!r} under "
                         f"{layout.root}")
    return link_chain(entries)


def decode_challenger_head(data: bytes) -> _ChallengerHead:
    """The fields of a challenger the chain needs (msgspec.DecodeError if it is none)."""
    return _challenger_decoder.decode(data)


def parent_of(handoff: bytes) -> str | None:
    """A handoff's `parent_sha256`, None when it has none or does not decode."""
    try:
        return _parent_decoder.decode(handoff).parent_sha256
    except msgspec.DecodeError:
        return None


def repaired_entry(name: str, head: _ChallengerHead) -> LineageEntry:
    """The chain's entry for challenger `name` (its head decoded)."""
    prov = head.provenance
    return LineageEntry(
        at=head.created_at, status="repaired", bundle_sha256=head.bundle_sha256,
        parent_sha256=prov.parent_sha256 if prov else None,
        repaired_sha256=head.repaired_sha256, strategy=head.repair_strategy,
        pattern_id=head.repair_pattern_id, pattern_source_sha256=pattern_source(head),
        lineage=head.lineage, challenger=name,
        handoffs=[head.handoff_name] if head.handoff_name else [],
        repairlab_version=(prov.repairlab_version or None) if prov else None,
        config_digest=(prov.config_digest or None) if prov else None,
    )


def link_chain(entries: dict[str, LineageEntry]) -> list[LineageEntry]:
    """The entries (one per bundle_sha256) oldest first, each pointing at its
    parent's position when the parent is in the chain."""
    chain = sorted(entries.values(), key=lambda e: (e.at, e.bundle_sha256))
    seen: dict[str, int] = {}
    for index, entry in enumerate(chain):
        if entry.parent_sha256 is not None:
            entry.parent_index = seen.get(entry.parent_sha256)
        seen.setdefault(entry.bundle_sha256, index)
        if entry.repaired_sha256 is not None:
            seen.setdefault(entry.repaired_sha256, index)
    return chain
