"""What the operator's commands read from the database: `status`, the
quarantine, lineage. The same reports as the filesystem's (`messages/reports.py`),
so every command prints the same on either backend.

BackendUnavailable propagates from each function, except from `status`, which
reports an unreachable database in its `database` field with zero counts (an
operator asks `status` precisely when something is wrong).
"""

from __future__ import annotations

import time

import msgspec

from repairlab.config.schema import Config
from repairlab.errors import UsageError
from repairlab.messages.records import ReasonFile, rfc3339
from repairlab.messages.reports import (
    InstanceStatus,
    LineageEntry,
    QuarantineDetail,
    QuarantineEntry,
    StatusReport,
)
from repairlab.state.backend import BackendUnavailable
from repairlab.state.layout import Layout
from repairlab.state.lineage import decode_challenger_head, link_chain, parent_of, repaired_entry
from repairlab.state.pg.connector import PgConnector, Row


def _reason_of(value: object) -> ReasonFile | None:
    if value is None:
        return None
    try:
        return msgspec.convert(value, ReasonFile)
    except msgspec.ValidationError:
        return None


def status(db: PgConnector, config: Config) -> StatusReport:
    """`run.py status` from the database: counts by state, instances with their
    heartbeats (the database's clock) and what each holds, and the database's
    health as this process sees it."""
    from repairlab.state.prune import PruneSchedule, next_boundary

    layout = Layout.from_config(config)
    now = time.time()
    schedule = PruneSchedule(layout)
    last = schedule.last_run() if layout.root.is_dir() else None
    due = schedule.due(config.prune.schedule, now) if layout.root.is_dir() else True
    report = StatusReport(
        root=db.shown, generated_at=rfc3339(now), queue=0, in_flight=0, waiting=0, done=0,
        quarantined=0, corrupt=0, challengers=0, instances=[],
        prune_schedule=config.prune.schedule,
        last_prune=rfc3339(last) if last is not None else None,
        next_prune=None if due else rfc3339(next_boundary(config.prune.schedule, now)),
        prune_due=due)
    try:
        counts = db.one("counts")
        extra = db.one("status_extra")
        held = {r["instance"]: int(r["held"]) for r in db.all("in_flight_by_instance")}
        beats = db.all("instances")
    except BackendUnavailable:
        report.database = db.health().line()
        return report
    assert counts is not None and extra is not None
    lease = config.instance.lease_seconds
    instances = []
    by_name: dict[str, Row] = {b["instance"]: b for b in beats}
    for name in sorted(set(by_name) | {n for n, c in held.items() if c}):
        beat = by_name.get(name)
        instances.append(InstanceStatus(
            instance=name, alive=beat is not None and beat["silent_seconds"] < lease,
            in_flight=held.get(name, 0),
            last_heartbeat=rfc3339(beat["last_beat"]) if beat else None,
            heartbeat_age_s=round(beat["silent_seconds"], 3) if beat else None,
            pid=beat["pid"] if beat else None, host=beat["host"] if beat else None,
            isolation=(beat["isolation"] or None) if beat else None))
    report.generated_at = rfc3339(float(extra["now"]))
    report.queue = int(counts["queued"])
    report.in_flight = int(counts["claimed"])
    report.waiting = int(counts["deferred"])
    report.done = int(counts["done"])
    report.quarantined = int(counts["hard_fail"])
    report.corrupt = int(counts["corrupt"])
    report.challengers = int(extra["challengers"])
    report.instances = instances
    age, retry = extra["oldest_queued_age"], extra["next_retry_in"]
    report.oldest_queued_age_s = round(age, 3) if age is not None else None
    report.next_retry_in_s = round(retry, 3) if retry is not None else None
    report.database = db.health().line()
    return report


def quarantined(db: PgConnector) -> list[QuarantineEntry]:
    """Every quarantined handoff, oldest quarantine first (then by name)."""
    entries = []
    for row in db.all("quarantined"):
        reason = _reason_of(row["reason"])
        last = None
        if reason is not None:
            last = reason.reason or (reason.failures[-1].reason if reason.failures else None)
        entries.append(QuarantineEntry(
            name=row["name"], bundle_sha256=row["bundle_sha256"], tool=row["tool"],
            lineage=row["lineage"], failures=len(reason.failures) if reason else 0,
            last_reason=last, quarantined_at=reason.quarantined_at if reason else None,
            size_bytes=int(row["size"]), reason_file_ok=reason is not None))
    entries.sort(key=lambda e: (e.quarantined_at or "", e.name))
    return entries


def quarantine_detail(db: PgConnector, name: str) -> QuarantineDetail:
    """The reason of one quarantined handoff; UsageError when there is none."""
    row = db.one("quarantined_one", name=name)
    if row is None:
        raise UsageError(f"no quarantined handoff named {name!r}")
    reason = _reason_of(row["reason"])
    return QuarantineDetail(name=row["name"], path=f"postgres:hard_fail/{row['name']}",
                            reason=reason,
                            last_test_output=(reason.last_test_output or "") if reason else "")


def lineage(db: PgConnector, tool: str) -> list[LineageEntry]:
    """The chain of `tool` as `state/lineage.py` builds it from files, from rows."""
    entries: dict[str, LineageEntry] = {}
    for row in db.all("challengers_of_tool", tool=tool):
        try:
            head = decode_challenger_head(bytes(row["body"]))
        except msgspec.DecodeError:
            continue
        entry = entries.get(head.bundle_sha256)
        if entry is not None:
            if head.handoff_name and head.handoff_name not in entry.handoffs:
                entry.handoffs.append(head.handoff_name)
            continue
        entries[head.bundle_sha256] = repaired_entry(row["file_name"], head)
    for row in db.all("quarantined_of_tool", tool=tool):
        reason = _reason_of(row["reason"])
        sha = reason.bundle_sha256 if reason else None
        if sha is None:
            continue
        entry = entries.get(sha)
        if entry is not None:
            entry.handoffs.append(row["name"])
            continue
        entries[sha] = LineageEntry(
            at=(reason.quarantined_at if reason else None) or "", status="quarantined",
            bundle_sha256=sha, parent_sha256=parent_of(bytes(row["body"])),
            lineage=reason.lineage if reason else None, handoffs=[row["name"]])
    if not entries:
        raise UsageError(f"no challenger or quarantined handoff of tool {tool!r} in "
                         f"{db.shown}")
    return link_chain(entries)
