"""The daemon's on-disk outputs: challenger, metrics line, reason file, failure record.

Each is a Struct, so writers cannot forget a field and readers (the operator
commands, the tests) decode with the same types and get errors that name the field.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

CHALLENGER_SCHEMA = "repairlab.challenger/1"


def rfc3339(ts: float) -> str:
    """A POSIX timestamp as RFC 3339 UTC with microseconds and a `Z`."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_rfc3339(text: str) -> float:
    """The inverse of `rfc3339`; accepts any offset. Raises ValueError."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class TestCounts(msgspec.Struct, kw_only=True):
    """`tests` of a challenger: the final run."""

    __test__ = False

    passed: int
    failed: int
    duration_s: float


class Provenance(msgspec.Struct, kw_only=True):
    """Where a challenger's result came from."""

    bundle_sha256: str
    parent_sha256: str | None = None
    repaired_sha256: str | None = None
    pattern_source_sha256: str | None = None
    repairlab_version: str = ""
    config_digest: str = ""


class Challenger(msgspec.Struct, kw_only=True):
    """`repairlab.challenger/1` (SPEC §3). Fields may be added, never renamed."""

    schema: str = CHALLENGER_SCHEMA
    tool: str
    lineage: str | None
    handoff_id: str | None
    bundle_sha256: str
    repaired_sha256: str
    repair_strategy: str
    repair_pattern_id: str | None
    repair_attempts: int
    repair_details: dict[str, Any]
    meta_repair: bool = True
    files: dict[str, str]
    diff: str
    tests: TestCounts
    instance: str
    created_at: str
    handoff_name: str | None = None
    provenance: Provenance | None = None


class MetricLine(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One line of `metrics.jsonl` (SPEC §4). `ts`, `event`, `instance` and
    `meta_repair` are on every line (so `meta_repair` has no default: with
    `omit_defaults` a default false would be left out); the rest where the event
    has them."""

    ts: str
    event: str
    instance: str
    meta_repair: bool
    bundle_sha256: str | None = None
    tool: str | None = None
    lineage: str | None = None
    repair_strategy: str | None = None
    repair_pattern_id: str | None = None
    repair_attempts: int | None = None
    duration_s: float | None = None
    handoff: str | None = None
    challenger: str | None = None
    duplicate: bool | None = None
    reason: str | None = None
    failures: int | None = None
    actor: str | None = None
    path: str | None = None
    bytes: int | None = None
    candidates: int | None = None
    llm_tokens: int | None = None  # tokens the `llm` strategy paid for in this attempt


class FailureRecord(msgspec.Struct, kw_only=True):
    """One failed repair of one bundle, as stored under `failures/` and listed in
    a reason file. `key` identifies the attempt, so recording it twice is harmless."""

    ts: str
    instance: str
    reason: str
    key: str = ""
    handoff: str | None = None


class StrategyTried(msgspec.Struct, frozen=True, kw_only=True):
    """One strategy of the last attempt: how many candidates it judged and why it
    stopped: "passed", "exhausted" (it had no more candidates), "budget" (the bundle's
    time or candidate budget ran out, `detail` says which) or "error"."""

    name: str
    candidates: int = 0
    stopped: str = "exhausted"
    detail: str | None = None


class BestPartial(msgspec.Struct, frozen=True, kw_only=True):
    """The candidate of the last attempt that passed the most tests, with its diff
    (bounded; cut with a marker line)."""

    strategy: str
    passed: int
    failed: int
    errors: int = 0
    diff: str = ""


class RepairAttempt(msgspec.Struct, frozen=True, kw_only=True):
    """What the last failed attempt at a bundle tried, for an operator to act on:
    each strategy, the best partial candidate, and the first failing test's
    assertion (what it said, and where)."""

    strategies: list[StrategyTried] = msgspec.field(default_factory=list)
    best_partial: BestPartial | None = None
    first_failure: str | None = None
    candidates: int = 0
    duration_s: float = 0.0


class ReasonFile(msgspec.Struct, kw_only=True):
    """`NAME.reason.json` beside a quarantined or corrupt handoff (SPEC §5).
    `last_attempt` (beyond SPEC §5's fields) says what the last repair tried."""

    handoff: str
    rule: str
    bundle_sha256: str | None = None
    failures: list[FailureRecord] = msgspec.field(default_factory=list)
    quarantined_at: str | None = None
    tool: str | None = None
    lineage: str | None = None
    reason: str | None = None
    field: str | None = None
    instance: str | None = None
    last_test_output: str | None = None
    corrupt_at: str | None = None
    last_attempt: RepairAttempt | None = None
