"""A handoff held by a worker that died: its death counts as a failure of that
bundle (SPEC §5), recorded before anything restarts.

The supervisor calls `settle_crashed` for each handoff a dead repairer had begun,
before it starts the next incarnation: the failure record (reason `crashed the
repairer: <exception>`) is written durably under `failures/<sha>/`, the window is
judged as for any failed repair, and the handoff goes to `deferred/` to wait out
its backoff, or to `processed/hard_fail/` with its reason file once the window is
full. A handoff that crashes the repairer every time therefore ends quarantined
after `max_failures` crashes, instead of crashing it forever.

All of it runs on the supervisor's thread, with no actor in between: the actor
that would do it (failure_window, quarantine) may be what is down, and the
record must be on disk before the restart. The records are the same files the
failure_window actor writes (keyed by the attempt: a failure the repairer had
already recorded for this attempt before it died is not counted twice).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from actors.failure_window import judge
from actors.quarantine import quarantine
from config.schema import Config
from messages.commands import QuarantineBundle
from messages.records import MetricLine, rfc3339
from state.claims import Claims, attempt_key
from state.failures import FailureStore, new_record
from state.fsops import read_regular_file
from state.layout import Layout
from supervision.work_board import Job

CRASH_REASON = "crashed the repairer: {}"


def settle_crashed(layout: Layout, instance: str, config: Config, claim: Path, job: Job,
                   error: str, metric: Callable[[MetricLine], None]) -> str | None:
    """Record the crash as a failure of the bundle held at `claim`, then defer
    or quarantine it. Returns "deferred" or "hard_fail", or None when the claim
    is gone (it had reached its next place before the death).

    A handoff that died before it was decoded is identified by the SHA-256 of
    its file's bytes in place of its bundle_sha256. OSError propagates (the
    record could not be written: the caller hands the claim back instead).
    """
    if not os.path.lexists(claim):
        return None
    try:
        key = attempt_key(claim)
        sha = job.bundle_sha256 or _file_sha256(claim, config.limits.max_handoff_bytes)
    except FileNotFoundError:
        return None
    reason = CRASH_REASON.format(error)
    verdict = judge(FailureStore(layout.failures), sha,
                    new_record(key, instance, reason, job.name), config)
    common: dict[str, Any] = dict(bundle_sha256=sha, tool=job.tool, lineage=job.lineage,
                                  handoff=job.name, failures=len(verdict.failures),
                                  reason=reason[:500])
    if verdict.quarantine:
        try:
            quarantine(layout, instance, QuarantineBundle(
                claim=str(claim), name=job.name, bundle_sha256=sha, tool=job.tool,
                lineage=job.lineage, failures=verdict.failures, rule=verdict.rule),
                time.time())
        except FileNotFoundError:
            return None
        for event in ("repair_failed", "quarantined"):
            metric(_line(event, instance, common))
        return "hard_fail"
    if Claims(layout, instance).defer(claim, verdict.not_before) is None:
        return None
    metric(_line("repair_failed", instance, common))
    return "deferred"


def _line(event: str, instance: str, fields: dict[str, Any]) -> MetricLine:
    return MetricLine(ts=rfc3339(time.time()), event=event, instance=instance,
                      meta_repair=False, **fields)


def _file_sha256(path: Path, max_bytes: int) -> str:
    data, _ = read_regular_file(path, max_bytes)
    return hashlib.sha256(data).hexdigest()
