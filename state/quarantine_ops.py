"""The operator's side of quarantine: list, show and release (SPEC §5, §7).

Plain functions over the state root, shared by `run.py quarantine` and the tests.
A quarantined handoff is `processed/hard_fail/NAME.json` with
`NAME.reason.json` beside it; the daemon never looks at it again until it is
released, which

1. forgets the failure records of its `bundle_sha256` (a fresh window),
2. sets the handoff's mtime to now, so it is a new attempt (its attempt key is
   inode and mtime), and
3. moves it back into `queue/` by an atomic, never-overwriting rename, under its
   name or a unique variant of it,

then removes the reason file and appends a `released` metrics line. A daemon
picks it up from the queue like any new handoff. If two operators release the
same handoff at once, one rename wins and the other gets a clear error.
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec
from loguru import logger

from repairlab.errors import UsageError
from repairlab.messages.records import ReasonFile
from repairlab.messages.reports import QuarantineDetail, QuarantineEntry, ReleaseResult
from repairlab.repair.bundle import bundle_sha256
from repairlab.state.claims import is_handoff_name
from repairlab.state.failures import FailureStore
from repairlab.state.fsops import move_unique
from repairlab.state.layout import Layout
from repairlab.state.metrics import MetricsLog

_reason_decoder = msgspec.json.Decoder(ReasonFile)
MAX_REASON_BYTES = 4 << 20


class _HandoffHead(msgspec.Struct):
    """The few handoff fields a listing needs when the reason file is missing."""

    tool: str | None = None
    lineage: str | None = None
    files: dict[str, str] | None = None


_head_decoder = msgspec.json.Decoder(_HandoffHead)


def reason_path(handoff: Path) -> Path:
    """`NAME.reason.json` for `NAME.json` (as the quarantine actor names it)."""
    return handoff.with_name(handoff.name.removesuffix(".json") + ".reason.json")


def _is_quarantined_handoff(name: str) -> bool:
    return is_handoff_name(name) and not name.endswith(".reason.json")


def read_reason(handoff: Path) -> ReasonFile | None:
    """The reason file beside `handoff`, or None when it is missing, too large
    or does not decode (it is then reported as unreadable, never fatal)."""
    try:
        with open(reason_path(handoff), "rb") as fh:
            data = fh.read(MAX_REASON_BYTES + 1)
        if len(data) > MAX_REASON_BYTES:
            return None
        return _reason_decoder.decode(data)
    except (OSError, msgspec.DecodeError):
        return None


def _read_head(handoff: Path) -> _HandoffHead | None:
    try:
        return _head_decoder.decode(handoff.read_bytes())
    except (OSError, msgspec.DecodeError):
        return None


def resolve(layout: Layout, name: str) -> Path:
    """The quarantined handoff called `name` (`NAME` or `NAME.json`).

    Raises UsageError, in one line, when there is none (or the name tries to
    leave `processed/hard_fail/`).
    """
    base = name if name.endswith(".json") else name + ".json"
    if "/" in base or base.startswith(".") or not _is_quarantined_handoff(base):
        raise UsageError(f"no quarantined handoff named {name!r} in {layout.hard_fail}")
    path = layout.hard_fail / base
    if not path.is_file() or path.is_symlink():
        raise UsageError(f"no quarantined handoff named {name!r} in {layout.hard_fail}")
    return path


def list_quarantined(layout: Layout) -> list[QuarantineEntry]:
    """Every quarantined handoff, oldest quarantine first (then by name).

    Reads one small reason file per handoff; the handoff itself is read only
    when its reason file is missing or unreadable (for its tool and lineage).
    Files that vanish meanwhile (released, pruned) are left out.
    """
    try:
        with os.scandir(layout.hard_fail) as it:
            handoffs = [Path(e.path) for e in it if _is_quarantined_handoff(e.name)]
    except FileNotFoundError:
        return []
    entries = []
    for path in handoffs:
        try:
            size = os.stat(path, follow_symlinks=False).st_size
        except FileNotFoundError:
            continue
        reason = read_reason(path)
        if reason is not None:
            last = reason.reason or (reason.failures[-1].reason if reason.failures else None)
            entries.append(QuarantineEntry(
                name=path.name, bundle_sha256=reason.bundle_sha256, tool=reason.tool,
                lineage=reason.lineage, failures=len(reason.failures), last_reason=last,
                quarantined_at=reason.quarantined_at, size_bytes=size))
            continue
        head = _read_head(path)
        sha = bundle_sha256(head.files) if head is not None and head.files else None
        entries.append(QuarantineEntry(
            name=path.name, bundle_sha256=sha, tool=head.tool if head else None,
            lineage=head.lineage if head else None, failures=0, last_reason=None,
            quarantined_at=None, size_bytes=size, reason_file_ok=False))
    entries.sort(key=lambda e: (e.quarantined_at or "", e.name))
    return entries


def show_quarantined(layout: Layout, name: str) -> QuarantineDetail:
    """The reason file of one quarantined handoff and its last test output.
    Raises UsageError when there is no such handoff; a missing or unreadable
    reason file gives `reason=None` and an empty output."""
    path = resolve(layout, name)
    reason = read_reason(path)
    return QuarantineDetail(name=path.name, path=str(path), reason=reason,
                            last_test_output=(reason.last_test_output or "") if reason else "")


def release(layout: Layout, name: str, instance: str) -> ReleaseResult:
    """Send one quarantined handoff back to the queue with a fresh failure
    window (see the module doc for the steps and their order).

    Raises UsageError when it is not (or no longer) in quarantine. An OSError
    while moving leaves it in quarantine (its failure records may already be
    forgotten: it then simply starts with a fresh window when released again).
    A metrics line that cannot be written is logged, not raised: the release
    itself has happened.
    """
    path = resolve(layout, name)
    reason = read_reason(path)
    sha = reason.bundle_sha256 if reason is not None else None
    tool = reason.tool if reason is not None else None
    lineage = reason.lineage if reason is not None else None
    if sha is None or tool is None:
        head = _read_head(path)
        if head is not None:
            sha = sha or (bundle_sha256(head.files) if head.files else None)
            tool, lineage = tool or head.tool, lineage or head.lineage
    cleared = FailureStore(layout.failures).clear(sha) if sha else 0
    try:
        os.utime(path, None, follow_symlinks=False)  # a new attempt: new attempt key
        queued = move_unique(path, layout.queue, path.name)
    except FileNotFoundError:
        raise UsageError(f"{path.name} is no longer in quarantine (released or pruned "
                         "meanwhile)") from None
    reason_path(path).unlink(missing_ok=True)
    log = logger.bind(handoff=path.name, **({"bundle": sha[:12]} if sha else {}))
    metrics = MetricsLog(layout.metrics, instance)
    try:
        metrics.append(metrics.line("released", bundle_sha256=sha, tool=tool, lineage=lineage,
                                    handoff=queued.name, failures=cleared))
    except OSError as exc:
        log.warning("released, but the metrics line was not written: {}", exc)
    finally:
        metrics.close()
    log.info("released to {} ({} failure records cleared)", queued.name, cleared)
    return ReleaseResult(name=path.name, queued_as=str(queued), bundle_sha256=sha,
                         failures_cleared=cleared)


def release_all(layout: Layout, instance: str) -> tuple[list[ReleaseResult], list[str]]:
    """Release every quarantined handoff. Returns what was released and one
    error line per handoff that could not be (vanished meanwhile, or OSError);
    one failure does not stop the others."""
    released, errors = [], []
    for entry in list_quarantined(layout):
        try:
            released.append(release(layout, entry.name, instance))
        except (UsageError, OSError) as exc:
            errors.append(f"{entry.name}: {exc}")
    return released, errors
