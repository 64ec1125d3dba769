"""The operator's commands (SPEC §7): status, quarantine, prune, stats, lineage,
challengers export.

Each prints an aligned table for people, or with `--json` one document that
decodes with the Structs of `messages.reports`. Every command asks the backend
that `[backend] kind` names (`state.backend.open_backend`), never `state/` or
the database itself, so it prints the same on either backend; this module only
parses, calls and prints. Commands that only read (status, quarantine list and
show, stats, lineage, challengers export) never create or change anything under
the root and work with or without a daemon running; on the filesystem a missing
root is a usage error (exit 2), since it most likely means the wrong `--config`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from repairlab.cli.logs import setup_logging
from repairlab.cli.main import EXIT_FAIL, EXIT_OK, command, layout_of
from repairlab.cli.main import load as load_config
from repairlab.cli.render import Progress, percent, seconds, short, size, table
from repairlab.config.schema import Config
from repairlab.errors import UsageError
from repairlab.messages.documents import document
from repairlab.messages.records import MetricLine, rfc3339
from repairlab.messages.reports import (
    LineageReport,
    LlmStatus,
    PrunedEntry,
    PruneResult,
    QuarantineList,
    StatsReport,
    StatsRow,
)
from repairlab.state.fsops import fsync_dir, write_temp
from repairlab.state.layout import Layout
from repairlab.state.metrics import rotate_metrics
from repairlab.state.prune import PruneSchedule
from repairlab.state.stats import EventBatches, parse_duration, stats_of

if TYPE_CHECKING:
    from repairlab.messages.reports import (
        LineageEntry,
        QuarantineDetail,
        QuarantineEntry,
        ReleaseResult,
        StatusReport,
    )
    from repairlab.state.prune import PruneReport


class OperatorBackend(Protocol):
    """What these commands ask of a backend (`state.backend.Backend` has it all;
    so has `FilesystemReads.for_config`)."""

    def release(self, name: str) -> ReleaseResult: ...
    def release_all(self) -> tuple[list[ReleaseResult], list[str]]: ...
    def prune(self, ttl_seconds: float, *, now: float | None = None,
              dry_run: bool = False) -> PruneReport: ...
    def status(self) -> StatusReport: ...
    def quarantined(self) -> list[QuarantineEntry]: ...
    def quarantine_detail(self, name: str) -> QuarantineDetail: ...
    def lineage(self, tool: str) -> list[LineageEntry]: ...
    def challengers(self) -> Iterator[tuple[str, bytes]]: ...
    def event_batches(self) -> Iterator[list[MetricLine]]: ...
    def record_event(self, line: MetricLine) -> None: ...
    def close(self) -> None: ...


def load(args: argparse.Namespace) -> Config:
    """The config; logging goes to stderr at WARNING and above only, since these
    commands print their answer on stdout and an INFO line would repeat it."""
    config = load_config(args)
    setup_logging("WARNING", json=config.log.json or getattr(args, "log_json", False))
    return config


def _print_json(value: Any) -> None:
    sys.stdout.write(document(value).decode())


def _reader_layout(config: Config) -> Layout:
    """The layout for a command that only reads: nothing is created."""
    layout = Layout.from_config(config)
    if not layout.root.is_dir():
        raise UsageError(f"state root {layout.root} does not exist (wrong --config?)")
    return layout


def open_operator_backend(config: Config, *, reading: bool) -> OperatorBackend:
    """The backend of `config` for this instance id. For a command that only
    reads (`reading`) on the filesystem, a missing root is a UsageError and
    nothing is created; on PostgreSQL the database holds the state, so no local
    root is needed. Raises what `open_backend` raises (ConfigError,
    BackendUnavailable)."""
    if reading and config.backend.kind == "filesystem":
        _reader_layout(config)
    from repairlab.state.backend import open_backend

    return open_backend(config, config.instance.id)


def _one_line(text: str | None, width: int = 70) -> str:
    if not text:
        return "-"
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


# -- status -----------------------------------------------------------------------------


@command("status")
def status(args: argparse.Namespace) -> int:
    """Where every handoff is now, which instances are alive, when pruning runs."""
    config = load(args)
    backend = open_operator_backend(config, reading=True)
    try:
        report = backend.status()
    finally:
        backend.close()
    if args.json:
        _print_json(report)
        return EXIT_OK
    oldest = (f" (oldest waiting {seconds(report.oldest_queued_age_s)})"
              if report.oldest_queued_age_s is not None else "")
    retry = ""
    if report.next_retry_in_s is not None:
        retry = (f" (next retry in {seconds(report.next_retry_in_s)})"
                 if report.next_retry_in_s > 0 else " (a retry is due now)")
    prune_next = "due now" if report.prune_due else report.next_prune
    disk = report.disk
    free = "" if disk.free_bytes is None else f"{size(disk.free_bytes)} free"
    if disk.problem is not None:
        free = (f"{disk.problem.upper()}{', ' + free if free else ''}: "
                "no claims until it can be written again")
    rows = [
        ("state root", report.root),
        ("queue", f"{report.queue} handoffs{oldest}"),
        ("in flight", f"{report.in_flight}"),
        ("waiting", f"{report.waiting} backing off{retry}"),
        ("done", f"{report.done}"),
        ("quarantined", f"{report.quarantined}"),
        ("corrupt", f"{report.corrupt}"),
        ("challengers", f"{report.challengers}"),
        ("metrics", f"{size(report.metrics_bytes)} (+ {report.rotated_metrics} rotated files)"),
        ("disk", free),
        ("prune", f"{report.prune_schedule}; last {report.last_prune or 'never'}, "
                  f"next {prune_next}"),
    ]
    if report.database is not None:  # PostgreSQL (SPEC §9): ok, or unreachable since when
        rows.insert(1, ("database", report.database))
    if report.llm is not None:
        rows.append(("llm", _llm_status(report.llm)))
    for label, value in rows:
        print(f"{label:<12} {value}")
    print()
    if not report.instances:
        print("instances    none (no heartbeat, no claims): no daemon has run here recently")
        print("isolation    none in force: no daemon running (`check-config` probes it)")
        return EXIT_OK
    alive = sum(1 for i in report.instances if i.alive)
    print(f"instances    {alive} alive of {len(report.instances)} "
          f"(lease {config.instance.lease_seconds:g} s)")
    print(table(
        ["instance", "alive", "in flight", "last heartbeat", "age", "pid", "host"],
        [[i.instance, "yes" if i.alive else "NO", str(i.in_flight), i.last_heartbeat or "-",
          seconds(i.heartbeat_age_s), str(i.pid or "-"), i.host or "-"]
         for i in report.instances],
        "llrlrrl"))
    for i in report.instances:
        if i.alive:
            print(f"isolation    {i.instance}: {i.isolation or 'not reported'}")
    return EXIT_OK


# -- quarantine -------------------------------------------------------------------------


@command("quarantine")
def quarantine(args: argparse.Namespace) -> int:
    """`list`, `show NAME` or `release NAME|--all`."""
    config = load(args)
    if args.action in ("list", "show"):
        reader = open_operator_backend(config, reading=True)
        try:
            if args.action == "list":
                return _quarantine_list(reader, args.json)
            return _quarantine_show(reader, args.name, args.json)
        finally:
            reader.close()
    if bool(args.name) == bool(args.all):
        raise UsageError("release: give either a NAME or --all, not both or neither")
    layout = layout_of(config) if config.backend.kind == "filesystem" else \
        Layout.from_config(config)
    backend = open_operator_backend(config, reading=False)
    try:
        return _release(backend, layout, args)
    finally:
        backend.close()


def _release(backend: OperatorBackend, layout: Layout, args: argparse.Namespace) -> int:
    if args.all:
        released, errors = backend.release_all()
        for result in released:
            print(f"released {result.name} -> {_rel(layout, result.queued_as)} "
                  f"({result.failures_cleared} failure records cleared)")
        for error in errors:
            print(f"run.py quarantine: not released: {error}", file=sys.stderr)
        if not released and not errors:
            print("nothing to release: no quarantined handoffs")
        return EXIT_FAIL if errors else EXIT_OK
    result = backend.release(args.name)
    print(f"released {result.name} -> {_rel(layout, result.queued_as)} "
          f"({result.failures_cleared} failure records cleared)")
    return EXIT_OK


def _rel(layout: Layout, path: str) -> str:
    """`path` relative to the state root; a relative one (a backend's §1 place,
    e.g. PostgreSQL's `processed/done/NAME`) as it is."""
    if not os.path.isabs(path):
        return path
    try:
        return os.path.relpath(path, layout.root)
    except ValueError:
        return path


def _quarantine_list(backend: OperatorBackend, as_json: bool) -> int:
    entries = backend.quarantined()
    if as_json:
        _print_json(QuarantineList(entries=entries))
        return EXIT_OK
    if not entries:
        print("no quarantined handoffs")
        return EXIT_OK
    print(table(
        ["name", "tool", "lineage", "failures", "quarantined at", "bundle", "last reason"],
        [[e.name, e.tool or "-", e.lineage or "-",
          str(e.failures) if e.reason_file_ok else "? (no reason file)",
          e.quarantined_at or "-", short(e.bundle_sha256), _one_line(e.last_reason, 60)]
         for e in entries],
        "lllrlll"))
    print(f"\n{len(entries)} quarantined; `quarantine show NAME` for details, "
          "`quarantine release NAME` to retry one")
    return EXIT_OK


def _quarantine_show(backend: OperatorBackend, name: str, as_json: bool) -> int:
    detail = backend.quarantine_detail(name)
    if as_json:
        _print_json(detail)
        return EXIT_OK
    reason = detail.reason
    print(f"{'name':<14} {detail.name}")
    print(f"{'path':<14} {detail.path}")
    if reason is None:
        print("reason file    missing or unreadable")
        return EXIT_OK
    for label, value in (("bundle_sha256", reason.bundle_sha256), ("tool", reason.tool),
                         ("lineage", reason.lineage), ("quarantined at", reason.quarantined_at),
                         ("by instance", reason.instance), ("rule", reason.rule)):
        print(f"{label:<14} {value or '-'}")
    print(f"\nfailures ({len(reason.failures)})")
    if reason.failures:
        print(table(["ts", "instance", "reason"],
                    [[f.ts, f.instance, _one_line(f.reason, 90)] for f in reason.failures]))
    attempt = reason.last_attempt
    if attempt is not None:
        print(f"\nlast attempt ({attempt.candidates} candidates in {attempt.duration_s:.1f}s)")
        for t in attempt.strategies:
            print(f"  {t.name:<20} {t.stopped:<10} {t.candidates:>6} candidates"
                  + (f"  {_one_line(t.detail, 60)}" if t.detail else ""))
        if attempt.first_failure:
            print("first failure")
            print("\n".join("  " + line for line in attempt.first_failure.splitlines()))
        if attempt.best_partial is not None:
            bp = attempt.best_partial
            print(f"best partial candidate ({bp.strategy}: {bp.passed} passed, {bp.failed} "
                  f"failed, {bp.errors} errors)")
            print("\n".join("  " + line for line in bp.diff.rstrip("\n").splitlines()))
    print("\nlast test output")
    output = detail.last_test_output.rstrip("\n")
    print("\n".join("  " + line for line in output.splitlines()) if output else "  (none)")
    return EXIT_OK


# -- prune ------------------------------------------------------------------------------


@command("prune")
def prune_cmd(args: argparse.Namespace) -> int:
    """Prune now by the timed pruner's rules, and rotate `metrics.jsonl` when it
    is over `[prune] metrics_max_bytes`; `--dry-run` only says what would go."""
    config = load(args)
    if not args.dry_run:
        layout = layout_of(config)
    elif config.backend.kind == "filesystem":
        layout = _reader_layout(config)
    else:  # the store is the database; this host's metrics.jsonl may not exist
        layout = Layout.from_config(config)
    backend = open_operator_backend(config, reading=args.dry_run)
    try:
        return _prune(backend, layout, config, args)
    finally:
        backend.close()


def _prune(backend: OperatorBackend, layout: Layout, config: Config,
           args: argparse.Namespace) -> int:
    """What `run.py prune` does with its backend: the store pruned by the
    backend's rule and clock; this host's `metrics.jsonl` rotated and the
    schedule marked here (as the timed pruner does), the `pruned` event recorded
    through the backend."""
    now = time.time()  # the calendar's clock; what goes is judged by the store's (prune)
    ttl, limit = config.prune.ttl_seconds, config.prune.metrics_max_bytes
    report = backend.prune(ttl, dry_run=args.dry_run)
    rotated: str | None = None
    if args.dry_run:
        try:
            if os.stat(layout.metrics).st_size > limit:
                rotated = f"{layout.metrics.name}.<UTC time>"
        except FileNotFoundError:
            pass
    else:
        path = rotate_metrics(layout.metrics, limit, now)
        rotated = path.name if path is not None else None
        PruneSchedule(layout).mark(now)
        try:
            backend.record_event(MetricLine(
                ts=rfc3339(time.time()), event="pruned", instance=config.instance.id,
                meta_repair=False, bytes=report.bytes_freed,
                reason=f"{len(report.removed)} entries older than {ttl:g}s (run.py prune)"))
        except OSError as exc:
            print(f"run.py prune: pruned, but the metrics line was not written: {exc}",
                  file=sys.stderr)
    result = PruneResult(
        dry_run=args.dry_run, ttl_seconds=ttl, bytes_freed=report.bytes_freed,
        removed=[PrunedEntry(path=str(p), bytes=n) for p, n in report.removed],
        rotated=rotated, metrics_max_bytes=limit)
    if args.json:
        _print_json(result)
        return EXIT_OK
    verb = "would remove" if args.dry_run else "removed"
    if result.removed:
        print(table(["path", "size"],
                    [[_rel(layout, e.path), size(e.bytes)] for e in result.removed], "lr"))
        print()
    print(f"{verb} {len(result.removed)} entries older than {seconds(ttl)}, "
          f"{'freeing' if args.dry_run else 'freed'} {size(result.bytes_freed)}")
    if rotated:
        print(f"metrics.jsonl {'would be' if args.dry_run else 'was'} rotated to {rotated} "
              f"(over {size(limit)})")
    return EXIT_OK


# -- stats ------------------------------------------------------------------------------


@command("stats")
def stats(args: argparse.Namespace) -> int:
    """Success rates and timings per lineage, strategy or tool from every event
    the backend holds (on the filesystem: the metrics files, rotated ones
    included), streamed with a progress bar on a terminal."""
    config = load(args)
    since = parse_duration(args.since) if args.since else None
    backend = open_operator_backend(config, reading=True)
    try:
        batches = backend.event_batches()
        described = batches if isinstance(batches, EventBatches) else None
        progress = Progress("stats: reading metrics",
                            described.total_bytes if described is not None else 0)
        if described is not None:
            described.on_bytes = progress.advance
        try:
            report = stats_of(batches, args.by, since)
        finally:
            progress.close()
    finally:
        backend.close()
    if args.json:
        _print_json(report)
        return EXIT_OK
    _print_stats(report)
    return EXIT_OK


def _llm_status(llm: LlmStatus) -> str:
    state = "enabled" if llm.enabled else "disabled"
    return (f"{state}, {llm.model or '-'} at {llm.endpoint or '-'}; circuit {llm.circuit}; "
            f"{llm.requests_this_hour}/{llm.max_requests_per_hour} requests this hour, "
            f"{llm.tokens_today}/{llm.max_tokens_per_day} tokens today")


def _tokens_per_fix(row: StatsRow) -> str:
    if row.llm_tokens_per_fix is not None:
        return f"{row.llm_tokens_per_fix:.0f}"
    return f"({row.llm_tokens} spent)" if row.llm_tokens else "-"


def _strategies(row: StatsRow) -> str:
    shares = sorted(row.strategies.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{name} {share * 100:.0f}%" for name, share in shares) or "-"


def _patterns(row: StatsRow) -> str:
    return ", ".join(f"{p.pattern_id} x{p.fixes}" for p in row.top_patterns[:3]) or "-"


def _print_stats(report: StatsReport) -> None:
    window = f" since {report.since}" if report.since else ""
    kind = "leaderboard of lineages, best first" if report.by == "lineage" else f"by {report.by}"
    print(f"{kind}{window}: {report.lines} metrics lines from {len(report.files)} files"
          + (f" ({report.skipped} unreadable lines skipped)" if report.skipped else ""))
    if not report.rows:
        print("no repair events in that period")
        return
    ranked = report.by == "lineage"
    headers = [report.by, "handoffs", "repaired", "quarantined", "success", "median", "p95",
               "strategies", "top patterns"]
    # The model's cost per fix, only where a model was paid for at all.
    with_llm = bool(report.total.llm_tokens or report.total.strategies.get("llm"))
    if with_llm:
        headers.append("llm tokens/fix")

    def cells(rank: str, row: StatsRow) -> list[str]:
        cells = [row.group, str(row.handoffs), str(row.repaired), str(row.quarantined),
                 percent(row.success_rate), seconds(row.median_s), seconds(row.p95_s),
                 _strategies(row), _patterns(row)]
        if with_llm:
            cells.append(_tokens_per_fix(row))
        return [rank, *cells] if ranked else cells

    rows = [cells(str(i + 1), row) for i, row in enumerate(report.rows)]
    rows.append(cells("", report.total))
    align = ("rlrrrrrrll" if ranked else "lrrrrrrll") + ("r" if with_llm else "")
    text = table(["#", *headers] if ranked else headers, rows, align).splitlines()
    text.insert(len(text) - 1, text[1])  # a rule above the total
    print("\n".join(text))
    t = report.total
    print(f"\nalso: {t.repair_failed} failed attempts, {t.released} released, {t.corrupt} corrupt, "
          f"{t.duplicates} duplicates; times are of {t.timed} fresh repairs")


# -- lineage ----------------------------------------------------------------------------


@command("lineage")
def lineage(args: argparse.Namespace) -> int:
    """The chain of a tool's bundles and repairs, oldest first, with the hashes
    linking them (parent -> bundle -> repaired)."""
    config = load(args)
    backend = open_operator_backend(config, reading=True)
    try:
        report = LineageReport(tool=args.tool, entries=backend.lineage(args.tool))
    finally:
        backend.close()
    if args.json:
        _print_json(report)
        return EXIT_OK
    print(f"lineage of {args.tool}: {len(report.entries)} bundles, oldest first "
          "(parent -> bundle -> repaired; #n = an earlier entry)")
    rows = []
    for i, e in enumerate(report.entries):
        parent = short(e.parent_sha256)
        if e.parent_index is not None:
            parent += f" (#{e.parent_index})"
        how = e.strategy or "-"
        if e.pattern_id:
            how += f" {e.pattern_id} from {short(e.pattern_source_sha256)}"
        rows.append([f"#{i}", e.at, e.status, parent, short(e.bundle_sha256),
                     short(e.repaired_sha256), how, ", ".join(e.handoffs) or "-"])
    print(table(["", "at", "status", "parent", "bundle", "repaired", "how", "handoffs"],
                rows, "r"))
    versions = sorted({e.repairlab_version for e in report.entries if e.repairlab_version})
    digests = sorted({e.config_digest[:12] for e in report.entries if e.config_digest})
    if versions or digests:
        print(f"\nrepairlab {', '.join(versions) or '-'}; config digests "
              f"{', '.join(digests) or '-'}")
    return EXIT_OK


# -- challengers export -------------------------------------------------------------------


def _safe_challenger_name(name: str) -> bool:
    """A §3 file name that stays inside DIR (a name from a database is checked too)."""
    return (name.startswith("challenger_") and name.endswith(".json") and "/" not in name
            and "\0" not in name and len(name.encode()) <= 255)


@command("challengers")
def challengers(args: argparse.Namespace) -> int:
    """`export DIR`: every challenger not yet in DIR (by file name) as its SPEC §3
    file, written atomically (a temporary file, fsynced, then linked to its name:
    a file of that name, there before or made meanwhile, is never overwritten and
    counts as skipped). DIR is created when missing. Exit 0 when every challenger
    is in DIR afterwards; 1 when one could not be written (each said on stderr)."""
    config = load(args)
    target = Path(args.directory).expanduser()
    if target.exists() and not target.is_dir():
        raise UsageError(f"export: {target} is not a directory")
    backend = open_operator_backend(config, reading=True)
    written = skipped = failed = 0
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name, data in backend.challengers():
            if not _safe_challenger_name(name):
                print(f"run.py challengers: not exported: unsafe name {name!r}", file=sys.stderr)
                failed += 1
                continue
            if _export_one(target, name, data):
                written += 1
            else:
                skipped += 1
        if written:
            fsync_dir(target)
    finally:
        backend.close()
    print(f"exported {written} challengers to {target}, skipped {skipped} already there"
          + (f", {failed} not exported" if failed else ""))
    return EXIT_FAIL if failed else EXIT_OK


def _export_one(target: Path, name: str, data: bytes) -> bool:
    """Write `target/name` whole unless it exists; True when written here."""
    path = target / name
    if os.path.lexists(path):
        return False
    tmp = target / f".{name}.{uuid.uuid4().hex[:12]}.tmp"
    write_temp(tmp, data, point="challengers.export")
    try:
        os.link(tmp, path, follow_symlinks=False)  # link() never replaces a file
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)
    return True
