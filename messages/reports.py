"""What the operator commands print with `--json`: one Struct per report.

`run.py status --json` prints a `StatusReport`, `stats --json` a `StatsReport`
and so on; a script decodes them with these same types
(`msgspec.json.decode(out, type=StatusReport)`), so a renamed or missing field is
an error naming it rather than a silent `None`. Fields may be added with
defaults, never renamed (as for the on-disk formats in `messages.records`).

Times are RFC 3339 UTC strings, durations are seconds (`*_s`), sizes are bytes.
"""

from __future__ import annotations

import msgspec

from repairlab.messages.records import ReasonFile

# -- status -----------------------------------------------------------------------------


class InstanceStatus(msgspec.Struct, kw_only=True):
    """One daemon instance as seen from the state root: its heartbeat file
    (`instances/<id>.json`) and its claims directory (`claims/<id>/`).

    `alive` is true when the heartbeat is younger than `[instance] lease_seconds`;
    an instance that is not alive but still holds claims will have them taken
    back by any live peer.
    """

    instance: str
    alive: bool
    in_flight: int
    last_heartbeat: str | None = None
    heartbeat_age_s: float | None = None
    pid: int | None = None
    host: str | None = None
    isolation: str | None = None  # the candidates' isolation the instance runs with


class DiskStatus(msgspec.Struct, kw_only=True):
    """The filesystem holding the state root, from `statvfs` (nothing is written).

    `problem` is "full" (less than 64 KiB or no inode free), "read-only", or None.
    A daemon that cannot write there (its probe of 4 KiB fails) claims nothing:
    it has handed back what it held, and resumes by itself once a probe succeeds.
    """

    problem: str | None = None
    free_bytes: int | None = None
    free_inodes: int | None = None
    read_only: bool = False


class LlmStatus(msgspec.Struct, kw_only=True):
    """The `llm` strategy in `status`: its endpoint (host only, never the key), the
    circuit in words, and the shared budgets as the next request would count them."""

    enabled: bool
    model: str
    endpoint: str
    circuit: str
    circuit_open: bool
    requests_this_hour: int
    max_requests_per_hour: int
    tokens_today: int
    max_tokens_per_day: int


class StatusReport(msgspec.Struct, kw_only=True):
    """`run.py status`: where every handoff is now.

    `waiting` counts handoffs in `deferred/` (backing off after a failure);
    `next_retry_in_s` is when the first of them is due (negative: overdue, a
    daemon will claim it on its next scan). `oldest_queued_age_s` is the age of
    the oldest handoff in `queue/` by its modification time (None: queue empty).
    `next_prune` is None when a run is due now (the daemon runs it on its next
    tick, or at start).
    """

    root: str
    generated_at: str
    queue: int
    in_flight: int
    waiting: int
    done: int
    quarantined: int
    corrupt: int
    challengers: int
    instances: list[InstanceStatus]
    oldest_queued_age_s: float | None = None
    next_retry_in_s: float | None = None
    prune_schedule: str = ""
    last_prune: str | None = None
    next_prune: str | None = None
    prune_due: bool = False
    metrics_bytes: int = 0
    rotated_metrics: int = 0
    disk: DiskStatus = msgspec.field(default_factory=DiskStatus)
    llm: LlmStatus | None = None  # present when [llm] is enabled or has state on disk
    # The postgres backend: "ok", or "unreachable since <RFC 3339> (<error>)";
    # None on the filesystem backend.
    database: str | None = None


# -- quarantine -------------------------------------------------------------------------


class QuarantineEntry(msgspec.Struct, kw_only=True):
    """One quarantined handoff (`processed/hard_fail/NAME`), from its reason file.

    A handoff whose reason file is missing or unreadable is still listed, with
    `tool` and `lineage` read from the handoff itself when possible and
    `reason_file_ok` false.
    """

    name: str
    bundle_sha256: str | None
    tool: str | None
    lineage: str | None
    failures: int
    last_reason: str | None
    quarantined_at: str | None
    size_bytes: int
    reason_file_ok: bool = True


class QuarantineList(msgspec.Struct, kw_only=True):
    """`quarantine list --json`."""

    entries: list[QuarantineEntry]


class QuarantineDetail(msgspec.Struct, kw_only=True):
    """`quarantine show NAME --json`: the whole reason file and the last test output."""

    name: str
    path: str
    reason: ReasonFile | None
    last_test_output: str


class ReleaseResult(msgspec.Struct, kw_only=True):
    """One released handoff: where it is queued now and how many failure
    records of its bundle were forgotten."""

    name: str
    queued_as: str
    bundle_sha256: str | None
    failures_cleared: int


# -- prune ------------------------------------------------------------------------------


class PrunedEntry(msgspec.Struct, kw_only=True):
    """One file or directory that went (or would go)."""

    path: str
    bytes: int


class PruneResult(msgspec.Struct, kw_only=True):
    """`run.py prune --json`. `rotated` is the name `metrics.jsonl` was renamed
    to (or would be, in a dry run), None when it was below the threshold."""

    dry_run: bool
    ttl_seconds: float
    removed: list[PrunedEntry]
    bytes_freed: int
    rotated: str | None = None
    metrics_max_bytes: int = 0


# -- stats ------------------------------------------------------------------------------


class PatternCount(msgspec.Struct, kw_only=True):
    """How many repairs a pattern made."""

    pattern_id: str
    fixes: int


class StatsRow(msgspec.Struct, kw_only=True):
    """One group of `run.py stats` (a lineage, strategy or tool; `(all)` for the total).

    Counts are of metrics events: `handoffs` = repaired + quarantined + corrupt
    (the terminal outcomes; a handoff released and settled again counts again).
    `success_rate` = repaired / (repaired + quarantined), None when both are 0.
    `duplicates` are repaired lines for a bundle already repaired before (a lookup,
    not a repair): they count as repaired but not in timings, strategy shares or
    pattern fixes. `median_s` is the median and `p95_s` the nearest-rank 95th
    percentile of `duration_s` over `timed` fresh repairs (exact up to
    `stats.RESERVOIR` repairs per group, and for the total up to
    `stats.TOTAL_SAMPLE`; above that, estimated from a uniform sample).
    `strategies` maps each strategy to its share of fresh repairs (0..1).
    `llm_tokens` are the tokens the `llm` strategy paid for in this group's attempts
    (failed ones included; replies from the cache cost 0), and
    `llm_tokens_per_fix` those divided by the group's fresh `llm` repairs: the
    model's cost per fix (None without any).
    """

    group: str
    handoffs: int = 0
    repaired: int = 0
    duplicates: int = 0
    quarantined: int = 0
    corrupt: int = 0
    repair_failed: int = 0
    released: int = 0
    success_rate: float | None = None
    timed: int = 0
    median_s: float | None = None
    p95_s: float | None = None
    strategies: dict[str, float] = msgspec.field(default_factory=dict)
    top_patterns: list[PatternCount] = msgspec.field(default_factory=list)
    llm_tokens: int = 0
    llm_tokens_per_fix: float | None = None


class StatsReport(msgspec.Struct, kw_only=True):
    """`run.py stats --json`: the rows (a leaderboard, best first, for
    `--by lineage`), the total, and what was read."""

    by: str
    since: str | None
    rows: list[StatsRow]
    total: StatsRow
    files: list[str]
    lines: int
    skipped: int


# -- lineage ----------------------------------------------------------------------------


class LineageEntry(msgspec.Struct, kw_only=True):
    """One bundle of a tool and what became of it.

    `status` is `repaired` (a challenger exists) or `quarantined` (in
    `processed/hard_fail/`). `parent_index` is the position (0-based) in the
    chain of the earlier entry whose `bundle_sha256` or `repaired_sha256` equals
    this entry's `parent_sha256`, None when the parent is not known here.
    """

    at: str
    status: str
    bundle_sha256: str
    parent_sha256: str | None = None
    repaired_sha256: str | None = None
    strategy: str | None = None
    pattern_id: str | None = None
    pattern_source_sha256: str | None = None
    lineage: str | None = None
    challenger: str | None = None
    handoffs: list[str] = msgspec.field(default_factory=list)
    repairlab_version: str | None = None
    config_digest: str | None = None
    parent_index: int | None = None


class LineageReport(msgspec.Struct, kw_only=True):
    """`run.py lineage TOOL --json`: the tool's bundles, oldest first."""

    tool: str
    entries: list[LineageEntry]
